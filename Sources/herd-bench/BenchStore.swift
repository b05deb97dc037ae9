import ArgumentParser
import Foundation
import HerdController
import HerdTestSupport

/// Which store a benchmark runs on.
enum BenchStoreKind: String, ExpressibleByArgument, CaseIterable, Sendable {
    case sqlite, postgresql
}

/// A benchmark's store: a SQLite file in `directory`, or a database on a PostgreSQL cluster started for
/// the run (initdb/pg_ctl on loopback) — `durable` as production runs it, `fsync` and
/// `synchronous_commit` on as SQLite's `synchronous = FULL`, or not, where only sizes and reads are
/// measured and the fill would otherwise wait on a flush per transaction.
final class BenchStore {
    let kind: BenchStoreKind
    let sqliteFile: String
    let cluster: PostgresCluster?

    init(_ kind: BenchStoreKind, sqliteFile: String, durable: Bool = true) throws {
        self.kind = kind
        self.sqliteFile = sqliteFile
        switch kind {
        case .sqlite:
            cluster = nil
        case .postgresql:
            let cluster = try PostgresCluster(settings: [
                "fsync = \(durable ? "on" : "off")", "synchronous_commit = \(durable ? "on" : "off")",
                "shared_buffers = 512MB", "max_connections = 200",
            ])
            try cluster.sql("CREATE DATABASE herd")
            self.cluster = cluster
        }
    }

    /// What `store =` says, and `Store(location:)` opens.
    var location: String {
        guard let cluster else { return sqliteFile }
        return "postgresql://postgres:postgres-secret@127.0.0.1:\(cluster.port)/herd?sslmode=disable"
    }

    /// The store's size on disk: the SQLite file and its WAL, or the PostgreSQL database (tables,
    /// indexes, TOAST; not the cluster's WAL).
    func bytes() throws -> Int {
        guard let cluster else {
            return [sqliteFile, sqliteFile + "-wal"].map {
                (try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int) ?? 0
            }.reduce(0, +)
        }
        return Int(try cluster.sql("SELECT pg_database_size('herd')").trimmingCharacters(in: .whitespacesAndNewlines))
            ?? 0
    }

    /// CPU seconds of the PostgreSQL server so far: the postmaster and every backend it started.
    func serverCPUSeconds() -> Double {
        guard let cluster,
            let text = try? String(contentsOfFile: cluster.directory.file("data/postmaster.pid"), encoding: .utf8),
            let postmaster = Int32(text.split(separator: "\n").first ?? "")
        else { return 0 }
        var total = 0.0
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), let stat = ProcessCPU.stat(pid) else { continue }
            if pid == postmaster || stat.parent == postmaster { total += stat.seconds }
        }
        return total
    }

    func stop() { cluster?.stop() }
}

/// CPU time of a process from /proc/PID/stat (user + system; children it reaped included).
enum ProcessCPU {
    static func stat(_ pid: Int32) -> (parent: Int32, seconds: Double)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        let fields = text[text.index(close, offsetBy: 2)...].split(separator: " ")
        guard fields.count > 15 else { return nil }
        let ticks =
            (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0) + (Double(fields[13]) ?? 0)
            + (Double(fields[14]) ?? 0)
        return (Int32(fields[1]) ?? 0, ticks / Double(sysconf(Int32(_SC_CLK_TCK))))
    }

    static func seconds(_ pid: Int32) -> Double { stat(pid)?.seconds ?? 0 }
}
