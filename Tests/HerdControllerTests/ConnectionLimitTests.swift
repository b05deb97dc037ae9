import Foundation
import HerdProtocol
import HerdTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Nobody who can reach the port can hold the controller's descriptors or handlers: connections per
/// address are capped, idle ones (a handshake never started) are closed, and a request whose body
/// trickles is cut off — against the real `herd-controller serve`.
@Suite(.serialized) struct ConnectionLimitTests {
    static func fleet() throws -> EndToEndTests.Fleet {
        let fleet = try EndToEndTests.Fleet()
        let path = fleet.data + "/controller.conf"
        var text = try String(contentsOfFile: path, encoding: .utf8)
        for (key, value) in [
            ("server.idle_timeout", "5s"), ("server.request_timeout", "2s"),
            ("server.max_connections_per_address", "4"),
        ] {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            guard lines.contains(where: { $0.hasPrefix(key + " = ") }) else { throw FixtureError("no \(key)") }
            text = lines.map { $0.hasPrefix(key + " = ") ? "\(key) = \(value)" : String($0) }.joined(separator: "\n")
        }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try fleet.startController()
        return fleet
    }

    /// A TCP connection to 127.0.0.1:port; nil when refused.
    static func connectTo(_ port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    /// Whether the server closed `fd` within `seconds` (a read returns end of file or a reset).
    static func closedByServer(_ fd: Int32, within seconds: Double) -> Bool {
        var poll = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard Glibc.poll(&poll, 1, Int32(seconds * 1000)) > 0 else { return false }
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, 0) <= 0
    }

    @Test func connectionsPerAddressAreCappedAndIdleOnesClosed() async throws {
        let fleet = try Self.fleet()
        defer {
            fleet.stopController()
            fleet.root.remove()
        }
        try await waitFor { Self.connectTo(fleet.port).map { close($0) } != nil }
        try await Task.sleep(for: .milliseconds(500))  // the probe connection above is gone
        let sockets = (0..<10).compactMap { _ in Self.connectTo(fleet.port) }
        defer { for fd in sockets { close(fd) } }
        #expect(sockets.count == 10)
        // The kernel accepts them all; the controller closes what is over the cap at once…
        let closedAtOnce = sockets.filter { Self.closedByServer($0, within: 1) }.count
        #expect(closedAtOnce == 6, "closed at once: \(closedAtOnce)")
        // …and the rest, which never start a handshake, after the idle timeout.
        let survivors = sockets.filter { !Self.closedByServer($0, within: 0) }
        #expect(survivors.allSatisfy { Self.closedByServer($0, within: 15) })
        // The slots are free again: a new connection is served (it stays open until idle).
        let again = try #require(Self.connectTo(fleet.port))
        defer { close(again) }
        #expect(!Self.closedByServer(again, within: 1))
    }

    @Test func aTrickledRequestBodyIsCutOff() async throws {
        let fleet = try Self.fleet()
        defer {
            fleet.stopController()
            fleet.root.remove()
        }
        try await waitFor { Self.connectTo(fleet.port).map { close($0) } != nil }
        let client = Process()
        client.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        client.arguments = ["s_client", "-connect", "127.0.0.1:\(fleet.port)", "-quiet"]
        let input = Pipe()
        let output = Pipe()
        client.standardInput = input
        client.standardOutput = output
        client.standardError = FileHandle.nullDevice
        try client.run()
        try await Task.sleep(for: .seconds(1))  // the handshake
        // A head that promises 1000 bytes, then 10 of them, then nothing.
        input.fileHandleForWriting.write(
            Data(
                "POST /v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"sent_at\""
                    .utf8))
        let started = Date()
        while client.isRunning, Date().timeIntervalSince(started) < 30 {
            try await Task.sleep(for: .milliseconds(200))
        }
        let stillOpen = client.isRunning
        if stillOpen { client.terminate() }
        #expect(!stillOpen, "the controller held a trickling request for 30 s")
        #expect(Date().timeIntervalSince(started) < 20)
        let answer = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(!answer.contains("200 OK"), "\(answer)")
    }
}
