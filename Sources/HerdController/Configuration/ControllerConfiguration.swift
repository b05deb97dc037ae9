import Foundation
import HerdProtocol

/// A controller configuration that cannot be used: `FILE:LINE: problem`.
public struct ControllerConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The controller's settings, read from `DATA_DIR/controller.conf` (`key = value`, see
/// Controller/controller.conf.example). Paths are inside the data directory.
public struct ControllerConfiguration: Sendable, Hashable {
    public var dataDirectory: String
    public var listenHost = "127.0.0.1"
    public var listenPort = 8443
    /// DNS names and IP addresses in the server certificate (agents verify the controller by them).
    public var serverNames = ["localhost", "127.0.0.1"]
    /// Tokens from `herdctl agents token` accept their agent at once; otherwise enrollments wait in
    /// `herdctl agents pending`. A token can override it either way.
    public var autoAccept = true
    public var maxClockSkew: Duration = .seconds(300)
    /// Group commit: at most this many reports per transaction.
    public var maxBatch = 512
    public var rawRetentionDays = 14
    public var rollupRetentionDays = 400
    /// An instance whose agent has not reported for this many intervals is `silent`.
    public var silenceIntervals = 3

    public init(dataDirectory: String) {
        self.dataDirectory = dataDirectory
    }

    public var configurationFile: String { dataDirectory + "/controller.conf" }
    public var databaseFile: String { dataDirectory + "/herd.sqlite" }
    public var caCertificateFile: String { dataDirectory + "/ca/ca.pem" }
    public var caKeyFile: String { dataDirectory + "/ca/ca-key.pem" }
    public var serverCertificateFile: String { dataDirectory + "/tls/server.pem" }
    public var serverKeyFile: String { dataDirectory + "/tls/server-key.pem" }

    public static let keys = [
        "listen", "server_names", "enrollment.auto_accept", "ingest.max_clock_skew", "ingest.max_batch",
        "retention.raw_days", "retention.rollup_days", "silence.intervals",
    ]

    public static func load(dataDirectory: String) throws(ControllerConfigurationError) -> ControllerConfiguration {
        let file = dataDirectory + "/controller.conf"
        let text: String
        do {
            text = try SecureFile.readText(file, maxBytes: 1 << 20)
        } catch {
            throw ControllerConfigurationError("\(error) (run herd-controller init --data-dir \(dataDirectory))")
        }
        return try parse(text, source: file, dataDirectory: dataDirectory)
    }

    public static func parse(_ text: String, source: String, dataDirectory: String)
        throws(ControllerConfigurationError) -> ControllerConfiguration
    {
        var configuration = ControllerConfiguration(dataDirectory: dataDirectory)
        let entries: [KeyValueFile.Entry]
        do {
            entries = try KeyValueFile.parse(text)
        } catch {
            throw ControllerConfigurationError("\(source):\(error.line): \(error.problem)")
        }
        for entry in entries {
            do {
                try configuration.set(entry.key, entry.value)
            } catch {
                throw ControllerConfigurationError("\(source):\(entry.line): \(error.description)")
            }
        }
        return configuration
    }

    mutating func set(_ key: String, _ value: String) throws(ControllerConfigurationError) {
        func integer(_ range: ClosedRange<Int>) throws(ControllerConfigurationError) -> Int {
            guard let n = Int(value), range.contains(n) else {
                throw ControllerConfigurationError(
                    "\(key): expected an integer in \(range.lowerBound)...\(range.upperBound)")
            }
            return n
        }
        switch key {
        case "listen":
            guard let colon = value.lastIndex(of: ":"), let port = Int(value[value.index(after: colon)...]),
                (1...65535).contains(port), colon > value.startIndex
            else { throw ControllerConfigurationError("listen: expected HOST:PORT") }
            var host = String(value[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || ".:-".contains($0)) }) else {
                throw ControllerConfigurationError("listen: expected HOST:PORT")
            }
            listenHost = host
            listenPort = port
        case "server_names":
            let names = value.split(separator: ",").map { String($0.trimmed(" \t")) }.filter { !$0.isEmpty }
            guard !names.isEmpty, names.count <= 32,
                names.allSatisfy({ name in
                    name.utf8.count <= 253
                        && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || ".:-".contains($0)) }
                })
            else { throw ControllerConfigurationError("server_names: expected host names or IP addresses") }
            serverNames = names
        case "enrollment.auto_accept":
            switch value {
            case "true", "yes": autoAccept = true
            case "false", "no": autoAccept = false
            default: throw ControllerConfigurationError("\(key): expected true or false")
            }
        case "ingest.max_clock_skew":
            guard value.hasSuffix("s"), let seconds = Int(value.dropLast()), (1...86_400).contains(seconds) else {
                throw ControllerConfigurationError("\(key): expected seconds such as 300s")
            }
            maxClockSkew = .seconds(seconds)
        case "ingest.max_batch": maxBatch = try integer(1...10_000)
        case "retention.raw_days": rawRetentionDays = try integer(1...3650)
        case "retention.rollup_days": rollupRetentionDays = try integer(1...3650)
        case "silence.intervals": silenceIntervals = try integer(1...1000)
        default: throw ControllerConfigurationError("unknown key \(key)")
        }
    }

    public func render() -> String {
        let host = listenHost.contains(":") ? "[\(listenHost)]" : listenHost
        let values = [
            "listen": "\(host):\(listenPort)", "server_names": serverNames.joined(separator: ", "),
            "enrollment.auto_accept": String(autoAccept),
            "ingest.max_clock_skew": "\(maxClockSkew.components.seconds)s", "ingest.max_batch": String(maxBatch),
            "retention.raw_days": String(rawRetentionDays), "retention.rollup_days": String(rollupRetentionDays),
            "silence.intervals": String(silenceIntervals),
        ]
        return Self.keys.map { "\($0) = \(values[$0]!)" }.joined(separator: "\n") + "\n"
    }
}
