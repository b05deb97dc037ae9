import Foundation

/// Several `herd-controller serve` processes on one PostgreSQL store behind a real `TCPBalancer`, as a
/// provider runs them: `herd-controller init --store URL` once, then its data directory (the fleet CA,
/// the server certificate, controller.conf) copied for every further replica, each with its own listen
/// port. Agents and herdctl use the balancer's address, which `init` wrote into herdctl's config.
public final class ReplicaSet: @unchecked Sendable {
    public let root: TemporaryDirectory
    public let binary: String
    public let replicaPorts: [Int]
    public let balancer: TCPBalancer
    public var port: Int { balancer.port }
    public var herdctlDirectory: String { root.file("herdctl") }
    private var processes: [ControllerProcess?] = []

    public func dataDirectory(_ index: Int) -> String { root.file("replica\(index)") }

    /// `settings`: controller.conf lines (`key = value`) for every replica, replacing the default's.
    public init(binary: String, replicas: Int, store: String, settings: [String] = []) throws {
        root = try TemporaryDirectory("herd-replicas")
        self.binary = binary
        let balancerPort = try FreePort.next()
        replicaPorts = try (0..<replicas).map { _ in try FreePort.next() }
        let initialized = try runExecutable(
            binary,
            [
                "init", "--data-dir", root.file("replica0"), "--herdctl-dir", root.file("herdctl"), "--listen",
                "127.0.0.1:\(balancerPort)", "--store", store,
            ])
        guard initialized.status == 0 else { throw FixtureError("herd-controller init: \(initialized.output)") }
        for index in 0..<replicas {
            let directory = root.file("replica\(index)")
            if index > 0 {
                let copied = try runExecutable("/bin/cp", ["-a", root.file("replica0"), directory])
                guard copied.status == 0 else { throw FixtureError("cp: \(copied.output)") }
            }
            let file = directory + "/controller.conf"
            var text = try String(contentsOfFile: file, encoding: .utf8)
            for line in ["listen = 127.0.0.1:\(replicaPorts[index])"] + settings {
                text = Self.setting(text, line)
            }
            try text.write(toFile: file, atomically: true, encoding: .utf8)
        }
        balancer = try TCPBalancer(port: balancerPort, upstreams: replicaPorts)
        for index in 0..<replicas {
            processes.append(try ControllerProcess(binary: binary, dataDirectory: root.file("replica\(index)")))
        }
    }

    /// `text` with the line of `line`'s key replaced by `line` (appended when there is none).
    static func setting(_ text: String, _ line: String) -> String {
        let key = line.split(separator: "=", maxSplits: 1)[0].trimmingCharacters(in: .whitespaces)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if let index = lines.firstIndex(where: {
            $0.split(separator: "=", maxSplits: 1).first?.trimmingCharacters(in: .whitespaces) == key
        }) {
            lines[index] = line
        } else {
            lines.insert(line, at: max(0, lines.count - 1))
        }
        return lines.joined(separator: "\n")
    }

    public func process(_ index: Int) -> ControllerProcess? { processes[index] }

    /// Starts replica `index` again (after `kill` or `stop`).
    public func start(_ index: Int) throws {
        processes[index] = try ControllerProcess(binary: binary, dataDirectory: dataDirectory(index))
    }

    /// SIGKILL: the replica dies mid-request, holding whatever it held.
    public func kill(_ index: Int) {
        processes[index]?.kill()
        processes[index] = nil
    }

    public func stop() {
        for index in processes.indices { kill(index) }
        balancer.stop()
        root.remove()
    }

    deinit { stop() }
}
