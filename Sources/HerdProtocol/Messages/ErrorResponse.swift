/// The body of every error response: `{"error": {"code": "...", "message": "..."}}`.
public struct ErrorResponse: WireMessage, Hashable {
    public var error: WireError
    public init(error: WireError) { self.error = error }

}

extension ErrorResponse {
    public func validate() throws(WireError) {
        try Rule.identifier(error.code.rawValue, "error.code")
        try Rule.line(error.message, "error.message", maxBytes: Limits.maxReasonBytes, allowEmpty: true)
    }
}
