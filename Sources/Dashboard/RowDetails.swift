import Foundation
import LockMonitor

/// What the detail pane shows beyond a row, read from files and `/proc` by the session (the
/// dashboard reads no files): the summary of the row's record and the process its lock names.
public struct RowDetails: Equatable, Sendable {
    /// The row these details belong to.
    public var rowID: RowID
    /// A summary of the row's (first) record, nil when there is none or it cannot be read.
    public var recordSummary: String?
    /// The local process the lock's holder names, when it runs on this host.
    public var holderProcess: ProcessDetails?

    public init(rowID: RowID, recordSummary: String? = nil, holderProcess: ProcessDetails? = nil) {
        self.rowID = rowID
        self.recordSummary = recordSummary
        self.holderProcess = holderProcess
    }

    /// What to read for the details of one row: its lock file and its record.
    public struct Request: Equatable, Sendable {
        public var rowID: RowID
        /// The lock file whose named process to look up; nil for a record without a lock.
        public var lockName: String?
        /// The record to summarise; nil when the lock has none.
        public var recordKey: String?

        /// The request of `row`.
        public init(_ row: LockRow) {
            rowID = row.id
            lockName = row.lockName
            recordKey = row.records.first
        }
    }
}
