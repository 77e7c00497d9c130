import LockMonitor
import RecordStore

/// Why a confirmed break did not happen.
public enum BreakFailure: Error, Equatable, Sendable, CustomStringConvertible {
    /// The operator's rules refused it, or the lock changed since it was shown.
    case operation(LockOperationError)
    /// The core store could not take it aside, check or log it.
    case store(RecordStoreError)
    /// The source could not act: a Redis server that is away, a command it refused.
    case source(String)

    /// The failure of `error`, typed where it is one of locktop's own.
    public init(_ error: any Error) {
        switch error {
        case let error as LockOperationError: self = .operation(error)
        case let error as RecordStoreError: self = .store(error)
        default: self = .source("\(error)")
        }
    }

    public var description: String {
        switch self {
        case .operation(let error): return error.description
        case .store(let error): return error.description
        case .source(let text): return text
        }
    }
}
