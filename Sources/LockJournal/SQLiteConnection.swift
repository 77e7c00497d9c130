import CSQLite
import Foundation

/// One connection to an SQLite database, through the system's libsqlite3: statements prepared,
/// bound and stepped, and transactions. Used from one thread.
final class SQLiteConnection {
    private let handle: OpaquePointer
    /// The path it was opened at.
    let path: String

    /// The largest string or blob a value may hold (SQLite's own limit is 1 GB): a journal that
    /// another hand wrote costs at most this much memory per value.
    static let valueLimit: Int32 = 1 << 20

    /// Opens `path`, creating it when `readOnly` is false; waits up to `busyTimeout` seconds for
    /// another writer's transaction.
    init(path: String, readOnly: Bool, busyTimeout: TimeInterval = 5) throws(Journal.Failure) {
        var opened: OpaquePointer?
        let flags =
            (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX
            | SQLITE_OPEN_NOFOLLOW
        let status = sqlite3_open_v2(path, &opened, flags, nil)
        guard status == SQLITE_OK, let opened else {
            let message = opened.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(status))
            sqlite3_close(opened)
            throw Journal.Failure(description: "cannot open \(path): \(message)")
        }
        handle = opened
        self.path = path
        sqlite3_busy_timeout(handle, Int32(busyTimeout * 1000))
        sqlite3_limit(handle, SQLITE_LIMIT_LENGTH, Self.valueLimit)
        sqlite3_limit(handle, SQLITE_LIMIT_SQL_LENGTH, Self.valueLimit)
        // Views and triggers in a file someone else made run nothing of theirs.
        locktop_sqlite3_harden(handle)
    }

    deinit { sqlite3_close_v2(handle) }

    /// Runs `sql`, one or more statements without parameters.
    func execute(_ sql: String) throws(Journal.Failure) {
        var message: UnsafeMutablePointer<CChar>?
        if sqlite3_exec(handle, sql, nil, nil, &message) != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? lastError
            sqlite3_free(message)
            throw Journal.Failure(description: "\(path): \(text)")
        }
    }

    /// Prepares one statement.
    func prepare(_ sql: String) throws(Journal.Failure) -> SQLiteStatement {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil) == SQLITE_OK,
            let statement
        else { throw Journal.Failure(description: "\(path): \(lastError)") }
        return SQLiteStatement(statement, connection: self)
    }

    /// Runs `body` in one write transaction: committed when it returns, rolled back when it throws.
    func inTransaction(_ body: () throws(Journal.Failure) -> Void) throws(Journal.Failure) {
        try execute("BEGIN IMMEDIATE")
        do {
            try body()
            try execute("COMMIT")
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// The last error's message.
    var lastError: String { String(cString: sqlite3_errmsg(handle)) }
}

/// A prepared statement: bind, step, read the columns, reset.
final class SQLiteStatement {
    private let statement: OpaquePointer
    private let connection: SQLiteConnection

    /// A value to bind.
    enum Value {
        case null
        case integer(Int64)
        case real(Double)
        case text(String)
    }

    fileprivate init(_ statement: OpaquePointer, connection: SQLiteConnection) {
        self.statement = statement
        self.connection = connection
    }

    deinit { sqlite3_finalize(statement) }

    /// Binds `values` to the parameters, in order, after a reset.
    func bind(_ values: [Value]) throws(Journal.Failure) {
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let status: Int32
            switch value {
            case .null: status = sqlite3_bind_null(statement, index)
            case .integer(let number): status = sqlite3_bind_int64(statement, index, number)
            case .real(let number): status = sqlite3_bind_double(statement, index, number)
            case .text(let text): status = sqlite3_bind_text(statement, index, text, -1, Self.transient)
            }
            guard status == SQLITE_OK else { throw .init(description: "\(connection.path): \(connection.lastError)") }
        }
    }

    /// Steps once: true when a row is ready to read, false when the statement is done.
    func step() throws(Journal.Failure) -> Bool {
        switch sqlite3_step(statement) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw .init(description: "\(connection.path): \(connection.lastError)")
        }
    }

    /// Binds `values` and steps until done.
    func run(_ values: [Value]) throws(Journal.Failure) {
        try bind(values)
        while try step() {}
    }

    /// Column `index` of the row as text; nil when NULL.
    func text(_ index: Int32) -> String? {
        guard let bytes = sqlite3_column_text(statement, index) else { return nil }
        let count = Int(sqlite3_column_bytes(statement, index))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    /// Column `index` as a number; nil when NULL.
    func real(_ index: Int32) -> Double? {
        sqlite3_column_type(statement, index) == SQLITE_NULL ? nil : sqlite3_column_double(statement, index)
    }

    /// Column `index` as an integer; nil when NULL.
    func integer(_ index: Int32) -> Int64? {
        sqlite3_column_type(statement, index) == SQLITE_NULL ? nil : sqlite3_column_int64(statement, index)
    }

    /// SQLite copies a bound string at once.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}
