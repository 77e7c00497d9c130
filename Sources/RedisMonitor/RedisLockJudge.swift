import Foundation
import LockMonitor
import RecordStore

/// Judges Redis locks with the file classifier's rules (a holder naming a dead process on this
/// host; no TTL and held past `--stale-after` since first seen: suspect), plus one of prefect-redis's:
/// `wait_for_lock` takes the lock for a moment under a uuid1 token, so a uuid1 lock older than
/// ``probeLifetime`` was left behind by a waiter that died mid-probe: its own heartbeat ran out.
public struct RedisLockJudge: LockJudge {
    /// The file classifier whose rules apply.
    public let classifier: LockClassifier
    /// How long a `wait_for_lock` probe lives.
    public static let probeLifetime: TimeInterval = 5

    public init(classifier: LockClassifier) {
        self.classifier = classifier
    }

    /// The judgement of `lock` at `now`, with what its companion and heartbeat say (``RedisLockEntry/evidence(environment:now:)``).
    public func classify(_ lock: RedisLockEntry, now: Date, environment: MonitorEnvironment) -> LockClassification {
        classify(
            lock.entry, now: now, environment: environment, evidence: lock.evidence(environment: environment, now: now))
    }

    public func classify(_ lock: LockEntry, now: Date, environment: MonitorEnvironment, evidence: LockEvidence)
        -> LockClassification
    {
        if let probed = lock.content.flatMap({ Self.probeTime($0.holder) }),
            now.timeIntervalSince(probed) >= Self.probeLifetime
        {
            return LockClassification(
                state: .stale, liveness: .unknown,
                reason:
                    "a wait_for_lock probe from \(PrefectTimestamp.format(probed)), left \(DurationText.format(now.timeIntervalSince(probed))) ago"
            )
        }
        return classifier.classify(lock, now: now, environment: environment, evidence: evidence)
    }

    /// The classifier's next change, or the end of a probe's life when that comes first.
    public func nextStateChange(of lock: LockEntry, judged: LockClassification, evidence: LockEvidence) -> Date? {
        let next = classifier.nextStateChange(of: lock, judged: judged, evidence: evidence)
        guard judged.state != .stale, let probed = lock.content.flatMap({ Self.probeTime($0.holder) }) else {
            return next
        }
        let end = probed.addingTimeInterval(Self.probeLifetime)
        return min(next ?? end, end)
    }

    /// When a uuid1 token (32 hex digits, redis-py's default) was made, from the time it embeds;
    /// nil for any other token.
    public static func probeTime(_ token: String) -> Date? {
        let digits = Array(token.utf8)
        guard digits.count == 32, digits.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }),
            digits[12] == UInt8(ascii: "1")
        else { return nil }
        func hex(_ range: Range<Int>) -> UInt64 {
            UInt64(String(decoding: digits[range], as: UTF8.self), radix: 16) ?? 0
        }
        // time_low, time_mid and time_hi (without the version nibble): 100 ns ticks since 1582-10-15.
        let ticks = (hex(13..<16) << 48) | (hex(8..<12) << 32) | hex(0..<8)
        return Date(timeIntervalSince1970: Double(ticks) / 1e7 - 12_219_292_800)
    }
}
