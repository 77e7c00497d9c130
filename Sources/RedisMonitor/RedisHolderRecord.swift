import Foundation
import LockMonitor
import RecordStore
import RedisStore

/// What the Prefect helper's companion key `locktop:holder:<key>` says of a Redis lock's holder:
/// the identity a lock file would carry (host, pid, process start, acquired at, flow run and task
/// run) and the holder's per-process heartbeat key. Untrusted: it counts only while it names the
/// token the lock holds now, so a companion left by an earlier holder says nothing of a later one.
public struct RedisHolderRecord: Equatable, Sendable {
    /// The identity, in the lock file's model; `holder` is the lock's token.
    public var content: LockFileContent
    /// The heartbeat key (`locktop:alive:<host>:<pid>:<start>`), nil when the companion names none
    /// or names a key that is not a heartbeat's.
    public var heartbeatName: [UInt8]?
    /// How often the heartbeat is renewed, in seconds (0.1 to 3600); Redis expires it after three.
    public var heartbeatInterval: TimeInterval?

    /// The record in `bytes`, when it is the helper's JSON and names `token`; nil otherwise.
    public init?(parsing bytes: [UInt8], token: String) {
        guard let content = LockFileContent(parsing: bytes), content.holder == token,
            let value = JSONValue.parse(bytes)
        else { return nil }
        self.content = content
        if let name = value["alive"]?.stringValue.map({ Array($0.utf8) }),
            name.starts(with: Array(RedisLockStore.heartbeatPrefix.utf8)),
            name.count <= RedisLockStore.maximumHeartbeatNameLength,
            let interval = value["heartbeat_interval"]?.numberValue, interval >= 0.1, interval <= 3600
        {
            heartbeatName = name
            heartbeatInterval = interval
        }
    }

    /// Who the record names, for reasons: `pid 4242 on worker-b`.
    var holderText: String {
        "pid \(content.processID.map(String.init) ?? "?") on \(content.hostName ?? "an unnamed host")"
    }

    /// The heartbeat's testimony: alive while Redis holds its key, dead once Redis expired it.
    /// Redis's own clock expires the key, so no host's clock is trusted for the verdict.
    public func testimony(of heartbeat: RedisHeartbeat, now: Date) -> LivenessTestimony? {
        guard let interval = heartbeatInterval else { return nil }
        let limit = HostReport.silenceIntervals * interval
        switch heartbeat.reading {
        case .beating(let expiresAt):
            guard let expiresAt else {
                return LivenessTestimony(
                    source: .heartbeat, verdict: .alive, observedAt: heartbeat.observedAt,
                    reason: "heartbeat of \(holderText) is in Redis, with no TTL")
            }
            let age = max(0, limit - expiresAt.timeIntervalSince(heartbeat.observedAt))
            return LivenessTestimony(
                source: .heartbeat, verdict: .alive, observedAt: heartbeat.observedAt.addingTimeInterval(-age),
                reason: "heartbeat of \(holderText) is \(DurationText.format(age)) old")
        case .gone(let expiredAt?):
            return LivenessTestimony(
                source: .heartbeat, verdict: .dead, observedAt: expiredAt,
                reason:
                    "heartbeat of \(holderText) expired \(DurationText.format(max(0, now.timeIntervalSince(expiredAt)))) ago"
            )
        case .gone(nil):
            return LivenessTestimony(
                source: .heartbeat, verdict: .dead, observedAt: heartbeat.observedAt,
                reason: "heartbeat of \(holderText) has expired: Redis no longer holds it")
        }
    }
}
