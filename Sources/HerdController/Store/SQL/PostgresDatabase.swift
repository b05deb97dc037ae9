import Dispatch
import HerdProtocol
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// One PostgreSQL connection with a thread of its own: the store's closures run there, synchronously, as
/// they do on GRDB's connections, each statement a round trip awaited on that thread (never on a Swift
/// concurrency thread). The connection is made on first use and made again after it breaks — PostgreSQL
/// restarted, the network dropped — so a failed transaction is reported and the next one reconnects.
final class PostgresWorker: @unchecked Sendable {
    enum Mode {
        /// READ COMMITTED, as PostgreSQL's default.
        case write
        /// One snapshot for the whole closure, as a SQLite read sees.
        case read
    }

    private let queue: DispatchQueue
    private let configuration: PostgresConnection.Configuration
    private let logger: Logger
    // Touched only on `queue`.
    private var session: PostgresDatabase?
    private var nextID = 0

    init(label: String, configuration: PostgresConnection.Configuration) {
        queue = DispatchQueue(label: label)
        self.configuration = configuration
        logger = Logger(label: label, factory: { _ in SwiftLogNoOpLogHandler() })
    }

    func run<T: Sendable>(_ mode: Mode?, _ body: @escaping @Sendable (any SQLDatabase) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try self.runHere(mode, body) }) }
        }
    }

    /// Runs `body` outside any transaction (migrations take their own locks and transactions).
    func runHere<T>(_ mode: Mode?, _ body: (PostgresDatabase) throws -> T) throws -> T {
        dispatchPrecondition(condition: .onQueue(queue))
        let session = try connected()
        guard let mode else { return try body(session) }
        try session.execute(
            sql: mode == .read ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN", arguments: [])
        do {
            let value = try body(session)
            try session.execute(sql: "COMMIT", arguments: [])
            return value
        } catch {
            if !session.broken { _ = try? session.execute(sql: "ROLLBACK", arguments: []) }
            throw error
        }
    }

    func sync<T>(_ body: () throws -> T) rethrows -> T { try queue.sync(execute: body) }

    /// Which connection this worker is on (each reconnect is a new one): state a connection holds, such
    /// as an advisory lock, is gone when this changes. Read on the worker's queue.
    var connectionNumber: Int {
        dispatchPrecondition(condition: .onQueue(queue))
        return nextID
    }

    private func connected() throws -> PostgresDatabase {
        if let session, !session.broken, !session.isClosed { return session }
        session?.close()
        session = nil
        nextID += 1
        do {
            let connection = try PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.any(), configuration: configuration, id: nextID,
                logger: logger
            ).wait()
            let made = PostgresDatabase(connection, logger: logger)
            session = made
            return made
        } catch {
            throw PostgresDatabase.mapped(error, sql: "connect")
        }
    }

    func close() {
        queue.sync {
            session?.close()
            session = nil
        }
    }
}

/// The store's SQL on one PostgreSQL connection: `?` and `?N` placeholders become `$N` (once per
/// statement text), arguments are bound by type (`bigint`, `double precision`, `text`, `bytea`), and
/// result cells are read back into the same values SQLite gives.
final class PostgresDatabase: SQLDatabase {
    private let connection: PostgresConnection
    private let logger: Logger
    private var translated: [String: String] = [:]
    /// A statement failed without an answer from the server: the connection is not used again.
    private(set) var broken = false
    var dialect: SQLDialect { .postgresql }

    init(_ connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    func close() { _ = try? connection.close().wait() }

    /// The server ended the connection (restarted, or terminated this backend).
    var isClosed: Bool { connection.isClosed }

    /// A store dropped without `close()`: the connection closes in the background, kept alive until it has
    /// (postgres-nio requires a closed channel when the connection goes).
    deinit {
        guard !connection.isClosed else { return }
        let connection = connection
        connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    @discardableResult
    func execute(sql: String, arguments: SQLArguments) throws -> Int {
        try query(sql: sql, arguments: arguments).metadata.rows ?? 0
    }

    func rows(sql: String, arguments: SQLArguments) throws -> [SQLRow] {
        let result = try query(sql: sql, arguments: arguments)
        guard let first = result.rows.first else { return [] }
        let columns = SQLColumns(first.map(\.columnName))
        do {
            return try result.rows.map { row in SQLRow(columns: columns, values: try row.map(Self.value)) }
        } catch {
            throw Self.mapped(error, sql: sql)
        }
    }

    private func query(sql: String, arguments: SQLArguments) throws -> PostgresQueryResult {
        guard !broken, !connection.isClosed else {
            broken = true
            throw SQLError(kind: .connection, message: "the connection to PostgreSQL is closed", sql: sql)
        }
        var binds = PostgresBindings(capacity: arguments.values.count)
        for value in arguments.values {
            switch value {
            case .null: binds.appendNull()
            case .integer(let integer): binds.append(integer)
            case .real(let real): binds.append(real)
            case .text(let text): binds.append(text)
            case .blob(let bytes): binds.append(ByteBuffer(bytes: bytes))
            }
        }
        let text = translated[sql] ?? Self.placeholders(sql)
        translated[sql] = text
        do {
            return try connection.query(PostgresQuery(unsafeSQL: text, binds: binds), logger: logger).wait()
        } catch {
            let mapped = Self.mapped(error, sql: sql)
            if mapped.kind == .connection { broken = true }
            throw mapped
        }
    }

    private static func value(_ cell: PostgresCell) throws -> SQLValue {
        guard let bytes = cell.bytes else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8: return .integer(try cell.decode(Int64.self))
        case .float4, .float8: return .real(try cell.decode(Double.self))
        case .bool: return .integer(try cell.decode(Bool.self) ? 1 : 0)
        case .bytea: return .blob(Array(bytes.readableBytesView))
        default: return .text(try cell.decode(String.self))
        }
    }

    /// SQLite's placeholders in PostgreSQL's form: `?N` is `$N`; a bare `?` is one more than the largest
    /// number before it (SQLite's rule). Quoted text, quoted names and comments are left alone.
    static func placeholders(_ sql: String) -> String {
        var out = ""
        out.reserveCapacity(sql.utf8.count + 16)
        var largest = 0
        var quote: Character?
        var index = sql.startIndex
        while index < sql.endIndex {
            let character = sql[index]
            index = sql.index(after: index)
            if let open = quote {
                out.append(character)
                if character == open { quote = nil }
                continue
            }
            switch character {
            case "'", "\"":
                quote = character
                out.append(character)
            case "?":
                var digits = ""
                while index < sql.endIndex, let digit = sql[index].wholeNumberValue, sql[index].isASCII {
                    digits.append(String(digit))
                    index = sql.index(after: index)
                }
                let number = Int(digits) ?? largest + 1
                largest = max(largest, number)
                out += "$\(number)"
            default:
                out.append(character)
            }
        }
        return out
    }

    static func mapped(_ error: any Error, sql: String) -> SQLError {
        if let error = error as? SQLError { return error }
        guard let psql = error as? PSQLError else {
            return SQLError(kind: .other, message: String(describing: error), sql: sql)
        }
        guard let server = psql.serverInfo else {
            let message =
                psql.underlying.map { String(describing: $0) } ?? "PostgreSQL connection failed (\(psql.code))"
            return SQLError(kind: .connection, message: message.escapingControlCharacters, sql: sql)
        }
        let state = server[.sqlState] ?? ""
        let kind: SQLError.Kind =
            state.hasPrefix("23") || state == "P0001"
            ? .constraint : state.hasPrefix("08") || state.hasPrefix("57P") ? .connection : .other
        let message = (server[.message] ?? "error \(state)").escapingControlCharacters
        return SQLError(kind: kind, message: message, sql: sql, sqlState: state)
    }
}
