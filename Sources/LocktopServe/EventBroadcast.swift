import FlyingSocks
import Foundation
import LockMonitor
import LockReports
import Synchronization

/// The monitor's events for `GET /api/v1/events`, as Server-Sent Events: each subscriber gets
/// every event from when it subscribed, one `data:` line of `events --json`'s object per event,
/// with the `source` it came from.
/// A subscriber that reads too slowly loses the oldest lines beyond ``bufferedLines``, never the
/// server's memory.
public final class EventBroadcast: Sendable {
    /// The most lines kept for one slow subscriber.
    public static let bufferedLines = 1000
    private let subscribers = Mutex<[UInt64: AsyncStream<[UInt8]>.Continuation]>([:])
    private let nextID = Atomic<UInt64>(0)

    public init() {}

    /// Sends `events`, which came from `source`, to every subscriber.
    public func publish(_ events: [MonitorEvent], source: String) {
        guard !events.isEmpty else { return }
        let continuations = subscribers.withLock { Array($0.values) }
        guard !continuations.isEmpty else { return }
        for event in events {
            // `eventJSONLine` ends with a newline; SSE ends an event with an empty line.
            let line = Array("data: ".utf8) + Reports.eventJSONLine(event, source: source) + [0x0A]
            for continuation in continuations { continuation.yield(line) }
        }
    }

    /// A new subscriber's stream of SSE bytes, opening with a comment line.
    public func subscribe() -> AsyncStream<[UInt8]> {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream<[UInt8]>.makeStream(
            bufferingPolicy: .bufferingNewest(Self.bufferedLines))
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        subscribers.withLock { $0[id] = continuation }
        continuation.yield(Array(": locktop events\n\n".utf8))
        return stream
    }

    /// An SSE stream as the bytes of a response body, handed out as they come.
    struct Body: AsyncBufferedSequence {
        typealias Element = UInt8
        let stream: AsyncStream<[UInt8]>

        func makeAsyncIterator() -> Iterator { Iterator(base: stream.makeAsyncIterator()) }

        struct Iterator: AsyncBufferedIteratorProtocol {
            var base: AsyncStream<[UInt8]>.AsyncIterator
            var pending: ArraySlice<UInt8> = []

            mutating func next() async -> UInt8? {
                await nextBuffer(suggested: 1)?.first
            }

            mutating func nextBuffer(suggested count: Int) async -> ArraySlice<UInt8>? {
                if pending.isEmpty {
                    guard let chunk = await base.next() else { return nil }
                    pending = chunk[...]
                }
                let taken = pending.prefix(Swift.max(1, count))
                pending = pending.dropFirst(taken.count)
                return taken
            }
        }
    }
}
