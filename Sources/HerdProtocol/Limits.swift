/// The protocol's size and count limits. Both sides enforce them; `Protocol/README.md` lists them.
public enum Limits {
    /// Largest signed envelope a controller accepts on any agent endpoint (bytes on the wire).
    public static let maxEnvelopeBytes = 1 << 20
    /// Deepest JSON nesting accepted anywhere (objects and arrays both count).
    public static let maxJSONDepth = 16
    /// Largest sequence number: 2^53 − 1, so that every JSON implementation holds it exactly.
    public static let maxSequence: UInt64 = (1 << 53) - 1

    public static let maxCheckResults = 256
    public static let maxMetricsPerResult = 128
    public static let maxFindingsPerResult = 64
    public static let maxTags = 32

    /// Identifiers: agent ids, check ids, metric names, finding categories, tag keys.
    public static let maxIdentifierBytes = 64
    public static let maxSummaryBytes = 512
    public static let maxSignatureTextBytes = 256
    public static let maxSampleBytes = 512
    public static let maxShortTextBytes = 256
    public static let maxReasonBytes = 1024
    public static let maxOutputTailBytes = 16 * 1024
    public static let maxPEMBytes = 16 * 1024
    public static let maxCommandsPerResponse = 16
    public static let maxSignaturesPerEnvelope = 8
    /// Longest command validity a signer may set (`expires_at − issued_at`).
    public static let maxCommandTTL: Duration = .seconds(3600)
}
