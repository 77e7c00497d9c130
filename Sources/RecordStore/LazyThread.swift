import Foundation
import Synchronization

/// A background thread started the first time it is asked for, once: the loop of a cache that
/// fills itself (Prefect's API answers, agents' reports in Redis) while its readers never wait.
public final class LazyThread: Sendable {
    private let name: String
    private let started = Mutex(false)

    /// A thread named `name`, not started yet.
    public init(name: String) {
        self.name = name
    }

    /// Starts the thread running `body`, unless it was started already.
    public func startIfNeeded(_ body: @escaping @Sendable () -> Void) {
        let start = started.withLock { started -> Bool in
            defer { started = true }
            return !started
        }
        guard start else { return }
        let thread = Thread(block: body)
        thread.name = name
        thread.start()
    }
}
