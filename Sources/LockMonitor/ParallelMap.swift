import Foundation

/// Work split over the machine's cores: a large directory's listing is mostly `fstatat` calls, and
/// its lock files are thousands of small reads.
enum ParallelMap {
    /// Lets the workers share a closure that writes disjoint slots of one buffer.
    private struct UncheckedSendable<Value>: @unchecked Sendable {
        let value: Value
    }

    /// `transform` of each index in `0..<count`, in order, computed on up to two threads (one when
    /// `count` is below `threshold`, where a thread costs more than it saves).
    static func map<Element>(_ count: Int, threshold: Int = 2048, _ transform: (Int) -> Element) -> [Element] {
        let workers = count >= threshold ? min(2, ProcessInfo.processInfo.activeProcessorCount) : 1
        guard workers > 1 else { return (0..<count).map(transform) }
        return [Element](unsafeUninitializedCapacity: count) { buffer, initialized in
            let output = UncheckedSendable(value: buffer.baseAddress!)
            withoutActuallyEscaping(transform) { transform in
                let shared = UncheckedSendable(value: transform)
                DispatchQueue.concurrentPerform(iterations: workers) { worker in
                    let chunk = (count + workers - 1) / workers
                    for index in (worker * chunk)..<min(count, (worker + 1) * chunk) {
                        (output.value + index).initialize(to: shared.value(index))
                    }
                }
            }
            initialized = count
        }
    }
}
