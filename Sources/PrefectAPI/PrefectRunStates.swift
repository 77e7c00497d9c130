import Foundation
import LockMonitor
import RecordStore
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Flow-run states from Prefect's REST API (`GET /flow_runs/{id}`), fetched on one background
/// thread, cached, and rate-bounded, so that asking never stalls a watch. A terminal state is
/// kept a minute, any other ten seconds; an unreachable API is retried every thirty, with a
/// warning for the header meanwhile.
public final class PrefectRunStates: FlowRunStates {
    /// The most requests sent in one second.
    public static let maximumRequestsPerSecond = 5
    /// How long one request may take.
    public static let requestTimeout: TimeInterval = 3
    /// The most bytes read of one answer.
    public static let maximumAnswerSize = 1 << 20
    /// The most runs remembered.
    public static let maximumRuns = 10_000

    private struct Entry {
        var answer: (state: FlowRunState, fetchedAt: Date)?
        /// When to ask again (monotonic seconds).
        var refreshAt: Double
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var queue: [String] = []
        var queued: Set<String> = []
        var warning: String?
        /// Monotonic seconds before which the API is not asked again after it failed.
        var retryAfter: Double = 0
    }

    private let base: URL
    private let displayURL: String
    private let state = Mutex(State())
    private let thread = LazyThread(name: "locktop-prefect-api")
    private let answered = NSCondition()
    /// How long ``state(ofFlowRun:)`` waits for an answer not yet there, from this object's creation:
    /// a one-shot `list` waits a little, a watch never.
    private let waitDeadline: Double

    /// A client of the API at `url` (`PREFECT_API_URL`, such as `http://127.0.0.1:4200/api`) that
    /// waits for answers up to `wait` seconds after its creation; nil for a URL that is not http(s).
    public init?(url: String, wait: TimeInterval = 0) {
        guard let parsed = URL(string: url.hasSuffix("/") ? String(url.dropLast()) : url),
            ["http", "https"].contains(parsed.scheme?.lowercased() ?? "")
        else { return nil }
        base = parsed
        var shown = URLComponents(url: parsed, resolvingAgainstBaseURL: false)
        shown?.password = nil
        shown?.user = nil
        displayURL = shown?.string ?? parsed.absoluteString
        waitDeadline = MonotonicClock.seconds() + max(0, wait)
    }

    public var warning: String? { state.withLock { $0.warning } }

    public func state(ofFlowRun id: String) -> (state: FlowRunState, fetchedAt: Date)? {
        // A run id is a UUID: anything else is not asked about (it came from an untrusted file).
        guard UUID(uuidString: id) != nil else { return nil }
        let now = MonotonicClock.seconds()
        let (known, needsFetch) = state.withLock { state -> ((state: FlowRunState, fetchedAt: Date)?, Bool) in
            let entry = state.entries[id]
            guard entry == nil || entry!.refreshAt <= now else { return (entry?.answer, false) }
            if !state.queued.contains(id), state.queued.count < Self.maximumRuns {
                state.queue.append(id)
                state.queued.insert(id)
            }
            return (entry?.answer, true)
        }
        guard needsFetch else { return known }
        thread.startIfNeeded { [self] in fetchForever() }
        answered.lock()
        answered.signal()
        answered.unlock()
        guard known == nil, MonotonicClock.seconds() < waitDeadline else { return known }
        answered.lock()
        while state.withLock({ $0.queued.contains(id) }), MonotonicClock.seconds() < waitDeadline {
            _ = answered.wait(
                until: Date().addingTimeInterval(min(0.05, max(0, waitDeadline - MonotonicClock.seconds()))))
        }
        answered.unlock()
        return state.withLock { $0.entries[id]?.answer }
    }

    /// The background thread: one request at a time, at most ``maximumRequestsPerSecond``.
    private func fetchForever() {
        var sent: [Double] = []
        while true {
            let now = MonotonicClock.seconds()
            sent.removeAll { $0 < now - 1 }
            let next = state.withLock { state -> String? in
                guard now >= state.retryAfter, sent.count < Self.maximumRequestsPerSecond, !state.queue.isEmpty
                else { return nil }
                return state.queue.removeFirst()
            }
            guard let id = next else {
                answered.lock()
                _ = answered.wait(until: Date().addingTimeInterval(0.2))
                answered.unlock()
                continue
            }
            sent.append(now)
            let outcome = fetch(id)
            let done = MonotonicClock.seconds()
            state.withLock { state in
                state.queued.remove(id)
                switch outcome {
                case .success(let run):
                    state.warning = nil
                    let keep: Double = run.map { FlowRunState.terminalTypes.contains($0.type) ? 60 : 10 } ?? 60
                    if state.entries.count >= Self.maximumRuns, state.entries[id] == nil { state.entries.removeAll() }
                    state.entries[id] = Entry(answer: run.map { ($0, Date()) }, refreshAt: done + keep)
                case .failure(let reason):
                    state.warning = "Prefect API at \(displayURL) does not answer (\(reason)); its evidence waits"
                    state.retryAfter = done + 30
                    var entry = state.entries[id] ?? Entry(answer: nil, refreshAt: 0)
                    entry.refreshAt = done + 30
                    state.entries[id] = entry
                }
            }
            answered.lock()
            answered.broadcast()
            answered.unlock()
        }
    }

    private struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// One request: the run's state, nil for a run the API does not know.
    private func fetch(_ id: String) -> Result<FlowRunState?, Failure> {
        var request = URLRequest(url: base.appendingPathComponent("flow_runs").appendingPathComponent(id))
        request.timeoutInterval = Self.requestTimeout
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        if let key = ProcessInfo.processInfo.environment["PREFECT_API_KEY"], !key.isEmpty {
            request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization")
        }
        let finished = DispatchSemaphore(value: 0)
        let reply = Mutex<(Data?, Int, String?)>((nil, 0, nil))
        let task = URLSession.shared.dataTask(with: request) { data, response, error in
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            reply.withLock { $0 = (data, status, error.map { "\($0.localizedDescription)" }) }
            finished.signal()
        }
        task.resume()
        if finished.wait(timeout: .now() + Self.requestTimeout + 1) == .timedOut {
            task.cancel()
            return .failure(Failure(description: "no answer in \(Int(Self.requestTimeout))s"))
        }
        let (data, status, error) = reply.withLock { $0 }
        if let error { return .failure(Failure(description: error)) }
        if status == 404 || status == 422 { return .success(nil) }
        guard status == 200, let data, data.count <= Self.maximumAnswerSize else {
            return .failure(Failure(description: "HTTP \(status)"))
        }
        return .success(Self.parse([UInt8](data)))
    }

    /// A flow run's state from the API's JSON; nil when it does not say one.
    static func parse(_ bytes: [UInt8]) -> FlowRunState? {
        guard let value = JSONValue.parse(bytes),
            let type = value["state"]?["type"]?.stringValue ?? value["state_type"]?.stringValue
        else { return nil }
        let since = (value["state"]?["timestamp"]?.stringValue).flatMap(PrefectTimestamp.parse)
        return FlowRunState(
            runName: String((value["name"]?.stringValue ?? "?").prefix(200)),
            type: String(type.uppercased().prefix(32)),
            since: since)
    }
}
