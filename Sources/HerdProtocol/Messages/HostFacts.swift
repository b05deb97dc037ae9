/// What an agent knows about its host; the controller groups instances by these for fleet-wide patterns.
public struct HostFacts: WireMessage, Hashable {
    public var hostname: String
    /// Mastodon's version as the instance reports it, e.g. `4.3.2`.
    public var mastodonVersion: String?
    /// The object-storage endpoint host (`S3_ENDPOINT`/`S3_HOSTNAME`), never credentials.
    public var objectStorageEndpoint: String?
    public var region: String?
    public var provider: String?
    /// Free-form grouping tags set in the agent's config: identifier → one-line value.
    public var tags: [String: String]

    public init(
        hostname: String, mastodonVersion: String? = nil, objectStorageEndpoint: String? = nil,
        region: String? = nil, provider: String? = nil, tags: [String: String] = [:]
    ) {
        self.hostname = hostname
        self.mastodonVersion = mastodonVersion
        self.objectStorageEndpoint = objectStorageEndpoint
        self.region = region
        self.provider = provider
        self.tags = tags
    }

    enum CodingKeys: String, CodingKey {
        case hostname, mastodonVersion = "mastodon_version", objectStorageEndpoint = "object_storage_endpoint"
        case region, provider, tags
    }

    public func validate() throws(WireError) {
        try validate(at: "host")
    }

    func validate(at path: @autoclosure () -> String) throws(WireError) {
        try Rule.line(hostname, "\(path()).hostname", maxBytes: 253)
        for (field, value) in [
            ("mastodon_version", mastodonVersion), ("object_storage_endpoint", objectStorageEndpoint),
            ("region", region), ("provider", provider),
        ] {
            if let value { try Rule.line(value, "\(path()).\(field)", maxBytes: Limits.maxShortTextBytes) }
        }
        try Rule.count(tags.count, "\(path()).tags", max: Limits.maxTags)
        for (key, value) in tags {
            try Rule.identifier(key, "\(path()).tags")
            try Rule.line(value, "\(path()).tags.\(key)", maxBytes: Limits.maxShortTextBytes, allowEmpty: true)
        }
    }
}
