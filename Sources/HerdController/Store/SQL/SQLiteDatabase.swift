import Foundation
import GRDB
import GRDBSQLite

/// The store's SQL on a GRDB connection, inside the closure GRDB runs it in. Statements are prepared once
/// per connection (GRDB's statement cache: compiling was a large share of the write path), bound and
/// stepped with SQLite's C API (GRDB's row cursors, a copied row per result, were a quarter of it).
final class SQLiteDatabase: SQLDatabase {
    private let db: Database
    var dialect: SQLDialect { .sqlite }

    init(_ db: Database) { self.db = db }

    @discardableResult
    func execute(sql: String, arguments: SQLArguments) throws -> Int {
        try run(sql: sql, arguments: arguments) { _, _ in }
        return Int(sqlite3_changes(db.sqliteConnection))
    }

    func rows(sql: String, arguments: SQLArguments) throws -> [SQLRow] {
        var rows: [SQLRow] = []
        var columns: SQLColumns?
        try run(sql: sql, arguments: arguments) { statement, count in
            let names =
                columns
                ?? SQLColumns((0..<count).map { String(cString: sqlite3_column_name(statement, $0)) })
            columns = names
            rows.append(SQLRow(columns: names, values: (0..<count).map { Self.value(statement, $0) }))
        }
        return rows
    }

    private func run(
        sql: String, arguments: SQLArguments, row: (OpaquePointer, Int32) throws -> Void
    ) throws {
        let statement = try db.cachedStatement(sql: sql).sqliteStatement
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        sqlite3_reset(statement)
        guard Int(sqlite3_bind_parameter_count(statement)) == arguments.values.count else {
            throw SQLError(
                kind: .other,
                message:
                    "\(arguments.values.count) arguments for \(sqlite3_bind_parameter_count(statement)) parameters",
                sql: sql)
        }
        for (offset, value) in arguments.values.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32
            switch value {
            case .null: code = sqlite3_bind_null(statement, index)
            case .integer(let integer): code = sqlite3_bind_int64(statement, index, integer)
            case .real(let real): code = sqlite3_bind_double(statement, index, real)
            case .text(let text): code = sqlite3_bind_text(statement, index, text, -1, Self.transient)
            case .blob(let bytes):
                code = bytes.withUnsafeBytes {
                    sqlite3_bind_blob(statement, index, $0.baseAddress, Int32($0.count), Self.transient)
                }
            }
            guard code == SQLITE_OK else { throw error(code, sql: sql) }
        }
        let count = sqlite3_column_count(statement)
        while true {
            let code = sqlite3_step(statement)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else { throw error(code, sql: sql) }
            try row(statement, count)
        }
    }

    /// SQLite copies the bound bytes (`SQLITE_TRANSIENT`).
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    private static func value(_ statement: OpaquePointer, _ column: Int32) -> SQLValue {
        switch sqlite3_column_type(statement, column) {
        case SQLITE_NULL: return .null
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(statement, column))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(statement, column))
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(statement, column))
            guard count > 0, let bytes = sqlite3_column_blob(statement, column) else { return .blob([]) }
            return .blob([UInt8](UnsafeRawBufferPointer(start: bytes, count: count)))
        default:
            // Text, with its length: a NUL inside does not cut it.
            let count = Int(sqlite3_column_bytes(statement, column))
            guard count > 0, let text = sqlite3_column_text(statement, column) else { return .text("") }
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
        }
    }

    private func error(_ code: Int32, sql: String) -> SQLError {
        let primary = code & 0xff
        let kind: SQLError.Kind = primary == SQLITE_CONSTRAINT ? .constraint : .other
        return SQLError(kind: kind, message: String(cString: sqlite3_errmsg(db.sqliteConnection)), sql: sql)
    }
}
