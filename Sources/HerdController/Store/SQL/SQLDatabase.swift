import Foundation

/// One value as the store binds and reads it: what both SQLite and PostgreSQL columns hold here.
/// Booleans are integers 0 and 1 in both stores; times are seconds as `REAL`/`double precision`.
public enum SQLValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

/// A Swift value the store binds as an argument.
public protocol SQLBindable: Sendable {
    var sqlValue: SQLValue { get }
}

/// A Swift value the store reads from a column. Conversions are SQLite's lenient ones, so a query reads
/// the same from either store: a whole `REAL` reads as an integer, an integer as a `Double`.
public protocol SQLColumnValue: SQLBindable {
    init?(sqlValue: SQLValue)
}

extension Int64: SQLColumnValue {
    public var sqlValue: SQLValue { .integer(self) }
    public init?(sqlValue: SQLValue) {
        switch sqlValue {
        case .integer(let value): self = value
        case .real(let value): self.init(exactly: value)
        default: return nil
        }
    }
}

extension Int: SQLColumnValue {
    public var sqlValue: SQLValue { .integer(Int64(self)) }
    public init?(sqlValue: SQLValue) {
        guard let value = Int64(sqlValue: sqlValue) else { return nil }
        self.init(value)
    }
}

extension Double: SQLColumnValue {
    public var sqlValue: SQLValue { .real(self) }
    public init?(sqlValue: SQLValue) {
        switch sqlValue {
        case .real(let value): self = value
        case .integer(let value): self = Double(value)
        default: return nil
        }
    }
}

extension Bool: SQLColumnValue {
    public var sqlValue: SQLValue { .integer(self ? 1 : 0) }
    public init?(sqlValue: SQLValue) {
        guard let value = Int64(sqlValue: sqlValue) else { return nil }
        self = value != 0
    }
}

extension String: SQLColumnValue {
    public var sqlValue: SQLValue { .text(self) }
    public init?(sqlValue: SQLValue) {
        switch sqlValue {
        case .text(let value): self = value
        case .blob(let bytes): self = String(decoding: bytes, as: UTF8.self)
        default: return nil
        }
    }
}

/// Instants are stored as seconds since the epoch.
extension Date: SQLColumnValue {
    public var sqlValue: SQLValue { .real(timeIntervalSince1970) }
    public init?(sqlValue: SQLValue) {
        guard let seconds = Double(sqlValue: sqlValue) else { return nil }
        self.init(timeIntervalSince1970: seconds)
    }
}

extension Data: SQLColumnValue {
    public var sqlValue: SQLValue { .blob([UInt8](self)) }
    public init?(sqlValue: SQLValue) {
        switch sqlValue {
        case .blob(let bytes): self.init(bytes)
        case .text(let text): self.init(text.utf8)
        default: return nil
        }
    }
}

extension Array: SQLBindable where Element == UInt8 {
    public var sqlValue: SQLValue { .blob(self) }
}

extension Array: SQLColumnValue where Element == UInt8 {
    public init?(sqlValue: SQLValue) {
        switch sqlValue {
        case .blob(let bytes): self = bytes
        case .text(let text): self = Array(text.utf8)
        default: return nil
        }
    }
}

extension SQLValue: SQLBindable {
    public var sqlValue: SQLValue { self }
}

/// Statement arguments, written as an array literal: `[id, name, nil]`.
public struct SQLArguments: Sendable, ExpressibleByArrayLiteral {
    public var values: [SQLValue]

    public init(_ values: [SQLValue]) { self.values = values }

    public init(_ values: [(any SQLBindable)?]) { self.values = values.map { $0?.sqlValue ?? .null } }

    public init(arrayLiteral elements: (any SQLBindable)?...) { self.init(elements) }

    public static func + (lhs: SQLArguments, rhs: SQLArguments) -> SQLArguments {
        SQLArguments(lhs.values + rhs.values)
    }

    public static func += (lhs: inout SQLArguments, rhs: SQLArguments) { lhs.values += rhs.values }
}

/// The names of a result's columns, shared by its rows.
public final class SQLColumns: Sendable {
    public let names: [String]
    private let index: [String: Int]

    public init(_ names: [String]) {
        self.names = names
        var index: [String: Int] = [:]
        for (position, name) in names.enumerated() where index[name] == nil { index[name] = position }
        self.index = index
    }

    func position(of name: String) -> Int? { index[name] ?? index[name.lowercased()] }
}

/// One result row. Reading a column as a non-optional type that is NULL or of another kind is a
/// programming error (the schema says what each column holds) and stops the process, as GRDB's rows do.
public struct SQLRow: Sendable {
    public let columns: SQLColumns
    public let values: [SQLValue]

    public init(columns: SQLColumns, values: [SQLValue]) {
        self.columns = columns
        self.values = values
    }

    public subscript<T: SQLColumnValue>(_ position: Int) -> T? {
        let value = values[position]
        if value == .null { return nil }
        guard let converted = T(sqlValue: value) else {
            preconditionFailure("column \(columns.names[position]) holds \(value), not \(T.self)")
        }
        return converted
    }

    public subscript<T: SQLColumnValue>(_ position: Int) -> T {
        guard let value: T = self[position] else { preconditionFailure("column \(columns.names[position]) is NULL") }
        return value
    }

    public subscript<T: SQLColumnValue>(_ name: String) -> T? {
        guard let position = columns.position(of: name) else { preconditionFailure("no column \(name)") }
        return self[position]
    }

    public subscript<T: SQLColumnValue>(_ name: String) -> T {
        guard let position = columns.position(of: name) else { preconditionFailure("no column \(name)") }
        return self[position]
    }
}

/// Which SQL the connection speaks. The store's statements are written in what both dialects share
/// (`ON CONFLICT … DO UPDATE`, `RETURNING`, `?` placeholders); the few places they differ ask here.
public enum SQLDialect: String, Sendable {
    case sqlite, postgresql

    /// Joins non-NULL values of `expression` with commas (an aggregate).
    func groupConcat(_ expression: String) -> String {
        switch self {
        case .sqlite: "group_concat(\(expression))"
        case .postgresql: "string_agg(\(expression), ',')"
        }
    }

    /// The last `count` characters of `expression`.
    func suffix(_ expression: String, _ count: Int) -> String {
        switch self {
        case .sqlite: "substr(\(expression), -\(count))"
        case .postgresql: "right(\(expression), \(count))"
        }
    }

    /// After a `SELECT`: the rows read stay as read until the transaction ends (SQLite's write
    /// transaction already excludes every other writer).
    var lockingRead: String {
        switch self {
        case .sqlite: ""
        case .postgresql: "FOR SHARE"
        }
    }

    /// After a `SELECT`: the rows read are this transaction's alone; rows another transaction holds are
    /// passed over, not waited for.
    var claimRows: String {
        switch self {
        case .sqlite: ""
        case .postgresql: "FOR UPDATE SKIP LOCKED"
        }
    }

    /// The 1-based position of `needle` in `haystack`, 0 when absent.
    func position(of needle: String, in haystack: String) -> String {
        switch self {
        case .sqlite: "instr(\(haystack), \(needle))"
        case .postgresql: "strpos(\(haystack), \(needle))"
        }
    }

    /// The value at top-level key `key` of the JSON object in text column `column`, as text (NULL when
    /// absent). `key` is an SQL expression giving the key: a placeholder or a quoted literal.
    func jsonText(_ column: String, key: String) -> String {
        switch self {
        case .sqlite: "CAST(json_extract(\(column), '$.\"' || \(key) || '\"') AS TEXT)"
        case .postgresql: "(CAST(\(column) AS jsonb) ->> \(key))"
        }
    }
}

/// Why the database refused a statement: its message, and the statement (never its arguments, which may
/// hold secrets).
public struct SQLError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable {
        /// A UNIQUE, CHECK, NOT NULL or foreign-key constraint, or a trigger that refused the change.
        case constraint
        /// The connection is gone or could not be made (the statement may not have run).
        case connection
        case other
    }

    public var kind: Kind
    public var message: String
    public var sql: String
    /// PostgreSQL's SQLSTATE, when the server answered (`42P07`, `23514`, …).
    public var sqlState: String?

    public init(kind: Kind, message: String, sql: String, sqlState: String? = nil) {
        self.kind = kind
        self.message = message
        self.sql = sql
        self.sqlState = sqlState
    }

    public var description: String { "database: \(message)" }
}

/// A connection inside one transaction (or one read), used synchronously on the connection's own
/// thread: every store operation is one closure run by `Store.read` or `Store.write`.
public protocol SQLDatabase: AnyObject {
    var dialect: SQLDialect { get }

    /// Runs one statement and returns how many rows it changed.
    @discardableResult
    func execute(sql: String, arguments: SQLArguments) throws -> Int

    /// Runs one statement and returns its rows.
    func rows(sql: String, arguments: SQLArguments) throws -> [SQLRow]
}

extension SQLDatabase {
    @discardableResult
    public func execute(sql: String) throws -> Int { try execute(sql: sql, arguments: []) }
}

extension SQLRow {
    public static func fetchAll(_ db: any SQLDatabase, sql: String, arguments: SQLArguments = []) throws -> [SQLRow] {
        try db.rows(sql: sql, arguments: arguments)
    }

    public static func fetchOne(_ db: any SQLDatabase, sql: String, arguments: SQLArguments = []) throws -> SQLRow? {
        try db.rows(sql: sql, arguments: arguments).first
    }
}

extension SQLColumnValue {
    /// The first column of the first row; nil when there is no row or it is NULL.
    public static func fetchOne(_ db: any SQLDatabase, sql: String, arguments: SQLArguments = []) throws -> Self? {
        guard let row = try db.rows(sql: sql, arguments: arguments).first else { return nil }
        return row[0]
    }

    /// The first column of every row (NULLs skipped).
    public static func fetchAll(_ db: any SQLDatabase, sql: String, arguments: SQLArguments = []) throws -> [Self] {
        try db.rows(sql: sql, arguments: arguments).compactMap { $0[0] }
    }
}
