/// One kind of error seen by a check during a cycle: its category, the signature that matched,
/// how often, and one sample line with secrets redacted by the agent.
public struct Finding: WireMessage, Hashable {
    public var category: FindingCategory
    /// The classifier signature that matched, e.g. `ActiveRecord::ConnectionTimeoutError`.
    public var signature: String
    public var count: UInt64
    /// One redacted line showing the error, when the check has one.
    public var sample: String?

    public init(category: FindingCategory, signature: String, count: UInt64, sample: String? = nil) {
        self.category = category
        self.signature = signature
        self.count = count
        self.sample = sample
    }

    public init(json r: inout JSONReader) throws(WireError) {
        var category: String?, signature: String?, count: UInt64?, sample: String?
        try r.readObject { r, key throws(WireError) in
            switch key {
            case "category": category = try r.readString()
            case "signature": signature = try r.readString()
            case "count": count = try r.readInteger(UInt64.self, in: 0...UInt64.max)
            case "sample": sample = try r.readNull() ? nil : r.readString()
            default: try r.skipValue()
            }
        }
        self.init(
            category: FindingCategory(try r.required(category, "category")),
            signature: try r.required(signature, "signature"), count: try r.required(count, "count"), sample: sample)
    }

    public func write(to w: inout JSONWriter) {
        w.object { w in
            w.field("category", category.rawValue)
            w.field("count", count)
            w.field("sample", sample)
            w.field("signature", signature)
        }
    }

    public func validate() throws(WireError) {
        try validate(at: "finding")
    }

    func validate(at path: @autoclosure () -> String) throws(WireError) {
        try Rule.identifier(category.rawValue, "\(path()).category")
        try Rule.line(signature, "\(path()).signature", maxBytes: Limits.maxSignatureTextBytes)
        guard count >= 1, count <= Limits.maxSequence else {
            throw .invalid("\(path()).count", "must be between 1 and 2^53-1")
        }
        if let sample { try Rule.line(sample, "\(path()).sample", maxBytes: Limits.maxSampleBytes, allowEmpty: true) }
    }
}
