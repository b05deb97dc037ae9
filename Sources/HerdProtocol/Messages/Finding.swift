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

    enum CodingKeys: String, CodingKey {
        case category, signature, count, sample
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
