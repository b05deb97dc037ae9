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

    public init(json r: inout JSONReader) throws(WireError) {
        var hostname: String?, version: String?, endpoint: String?, region: String?, provider: String?
        var tags: [String: String]?
        try r.readObject { r, key throws(WireError) in
            switch key {
            case "hostname": hostname = try r.readString()
            case "mastodon_version": version = try r.readNull() ? nil : r.readString()
            case "object_storage_endpoint": endpoint = try r.readNull() ? nil : r.readString()
            case "region": region = try r.readNull() ? nil : r.readString()
            case "provider": provider = try r.readNull() ? nil : r.readString()
            case "tags":
                tags = try r.readDictionary(maxCount: Limits.maxTags) { r throws(WireError) in try r.readString() }
            default: try r.skipValue()
            }
        }
        self.init(
            hostname: try r.required(hostname, "hostname"), mastodonVersion: version, objectStorageEndpoint: endpoint,
            region: region, provider: provider, tags: try r.required(tags, "tags"))
    }

    public func write(to w: inout JSONWriter) {
        w.object { w in
            w.field("hostname", hostname)
            w.field("mastodon_version", mastodonVersion)
            w.field("object_storage_endpoint", objectStorageEndpoint)
            w.field("provider", provider)
            w.field("region", region)
            w.field("tags", tags) { w, value in w.string(value) }
        }
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
