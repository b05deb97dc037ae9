/// The body of every error response: `{"error": {"code": "...", "message": "..."}}`.
public struct ErrorResponse: WireMessage, Hashable {
    public var error: WireError
    public init(error: WireError) { self.error = error }

    public init(json r: inout JSONReader) throws(WireError) {
        var error: WireError?
        try r.readObject { r, key throws(WireError) in
            switch key {
            case "error": error = try WireError(json: &r)
            default: try r.skipValue()
            }
        }
        self.init(error: try r.required(error, "error"))
    }

    public func write(to w: inout JSONWriter) {
        w.object { w in
            w.key("error")
            error.write(to: &w)
        }
    }
}

extension ErrorResponse {
    public func validate() throws(WireError) {
        try Rule.identifier(error.code.rawValue, "error.code")
        try Rule.line(error.message, "error.message", maxBytes: Limits.maxReasonBytes, allowEmpty: true)
    }
}
