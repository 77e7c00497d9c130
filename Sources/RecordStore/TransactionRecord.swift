import Foundation

/// A record read from the store: its key and the JSON bytes of its result.
public struct TransactionRecord: Equatable, Sendable {
    /// The record key.
    public let key: String
    /// The JSON of the result, as Prefect wrote it.
    public let result: Data

    /// Creates a record.
    public init(key: String, result: Data) {
        self.key = key
        self.result = result
    }
}

/// The transaction isolation levels Prefect knows.
public enum IsolationLevel: String, Sendable, CaseIterable {
    case readCommitted = "READ_COMMITTED"
    case serializable = "SERIALIZABLE"
}
