import ArgumentParser
import Foundation
import RecordStore
import RedisStore

#if canImport(Glibc)
    import Glibc
#endif

/// `locktop lock --redis`: the same lease on a prefect-redis lock, so locktop and Prefect's
/// `RedisLockManager` exclude each other.
extension LockCommand {
    /// How often a waiter tries `SET NX` again: prefect-redis's (redis-py's) own pace.
    static let redisRetryInterval: TimeInterval = 0.1

    /// Takes `lock:<key>` with `SET NX` (and `PX` with `--hold-timeout`), runs the command, renews
    /// the TTL every third of it by compare-and-expire, watches for the token to change, and
    /// deletes the key on every exit path, only while it still holds this holder's token.
    func runRedis(_ url: String) throws {
        let holder = self.holder ?? FileSystemRecordStore.defaultHolder()
        let arguments = shellCommand.map { ["/bin/sh", "-c", $0] } ?? command
        let store = try Console.failing {
            RedisLockStore(
                connection: try directories.redisConnection(directories.parsedRedisURL(url)), prefix: directories.prefix
            )
        }
        let timeToLive = holdTimeout.map { Int(($0 * 1000).rounded(.up)) }
        ChildProcess.blockSignals()
        try acquireRedis(store, holder: holder, timeToLive: timeToLive, program: arguments[0])
        let location = "\(store.connection.url) \(directories.prefix)\(key)"
        let watchdog = Watchdog.start()
        defer { watchdog?.dismiss() }
        try runHoldingLock(
            arguments, location: location, holder: holder, watchdog: watchdog,
            supervise: { superviseRedis($0, store: store, holder: holder, timeToLive: timeToLive) },
            release: {
                if try !store.remove(name: store.name(forKey: key), holder: Array(holder.utf8)) {
                    Console.warn(
                        "warning: the lock of \"\(key)\" was no longer this holder's when \(arguments[0]) ended")
                }
            })
    }

    private func acquireRedis(_ store: RedisLockStore, holder: String, timeToLive: Int?, program: String) throws {
        let started = MonotonicClock.seconds()
        let deadline = nonblock ? started : wait.map { started + $0 }
        var announced: String?
        while true {
            if let signal = ChildProcess.pendingTermination() { throw ExitCode(128 + signal) }
            if try Console.failing({ try store.acquire(key: key, holder: holder, timeToLive: timeToLive) }) {
                if verbose {
                    Console.warn("got \"\(key)\" after \(String(format: "%.1f", MonotonicClock.seconds() - started))s")
                }
                return
            }
            if verbose, let current = try? store.lock(forKey: key), current.holderText != announced {
                announced = current.holderText
                Console.warn(
                    "waiting for \"\(key)\", held by \(TerminalText.escaped(current.holderText))"
                        + (current.timeToLive.map { " (expires in \(Double($0) / 1000) s)" } ?? " (no TTL)"))
            }
            if let deadline, MonotonicClock.seconds() >= deadline {
                Console.warn("lock \"\(key)\" was not acquired within \(wait ?? 0) s; \(program) did not run")
                throw ExitCode(conflictExitCode)
            }
            usleep(useconds_t(Self.redisRetryInterval * 1_000_000))
        }
    }

    /// Waits for `child` while forwarding signals; renews the TTL every third of it and checks the
    /// token every second. Returns how the child ended and whether the lock was lost meanwhile.
    private func superviseRedis(_ child: ChildProcess, store: RedisLockStore, holder: String, timeToLive: Int?) -> (
        ChildProcess.Ending, Bool
    ) {
        let signals = ChildProcess.makeSignalDescriptor()
        defer { close(signals) }
        let renewal = timeToLive.map { Double($0) / 3000 }
        var nextCheck = MonotonicClock.seconds() + min(1, renewal ?? 1)
        var lost = false
        while true {
            if let ending = child.reap() { return (ending, lost) }
            var descriptor = pollfd(fd: signals, events: Int16(POLLIN), revents: 0)
            let checkTimeout = Int32(max(0, (nextCheck - MonotonicClock.seconds()) * 1000).rounded(.up))
            _ = poll(&descriptor, 1, min(checkTimeout, child.escalateIfDue() ?? checkTimeout))
            child.forwardSignals(from: signals, killAfter: killAfter)
            guard !lost, MonotonicClock.seconds() >= nextCheck else { continue }
            nextCheck = MonotonicClock.seconds() + min(1, renewal ?? 1)
            let stillHeld: Bool
            do {
                if let timeToLive {
                    stillHeld = try store.renew(key: key, holder: holder, timeToLive: timeToLive)
                } else {
                    stillHeld = try store.lock(forKey: key)?.holderText == holder
                }
            } catch {
                Console.warn("warning: could not check the lock of \"\(key)\": \(error)")
                continue
            }
            if !stillHeld {
                lost = true
                Console.warn(
                    "lock \"\(key)\" was lost (its key no longer holds this holder's token)"
                        + (onLost == .term ? "; stopping \(child.processID) with SIGTERM" : ""))
                if onLost == .term { child.terminate(killAfter: killAfter) }
            }
        }
    }
}
