import Foundation
import RecordStore

/// The wait-for graph of a directory's locks, from what is known of each lock's holder and
/// waiters: process → waits for → lock → held by → process. A cycle in it is a deadlock: each
/// process in it holds a lock the next one waits for. Pure values, tested on values.
public struct WaitForGraph: Sendable {
    /// One lock: its holder, whether that holder is alive, and its waiters.
    public struct Lock: Sendable {
        public var lockName: String
        public var holder: ProcessDetails?
        public var holderLiveness: Liveness
        public var waiters: [IdentityLedger.Waiter]

        public init(
            lockName: String, holder: ProcessDetails?, holderLiveness: Liveness, waiters: [IdentityLedger.Waiter]
        ) {
            self.lockName = lockName
            self.holder = holder
            self.holderLiveness = holderLiveness
            self.waiters = waiters
        }

        var holderIsAlive: Bool { holderLiveness == .alive }
    }

    /// A cycle of the graph.
    public struct Deadlock: Equatable, Sendable {
        /// One lock of the cycle and its holder, who waits for the next link's lock (the last
        /// link's holder waits for the first link's lock).
        public struct Link: Equatable, Sendable {
            public var lockName: String
            public var holderProcessID: Int32
            public var holderCommand: String

            public init(lockName: String, holderProcessID: Int32, holderCommand: String) {
                self.lockName = lockName
                self.holderProcessID = holderProcessID
                self.holderCommand = holderCommand
            }
        }

        /// The cycle, from the link whose lock name sorts first.
        public var links: [Link]
        /// Whether every holder in the cycle is known alive; otherwise it may be no deadlock at all.
        public var isCertain: Bool

        public init(links: [Link], isCertain: Bool) {
            self.links = links
            self.isCertain = isCertain
        }

        /// The cycle's locks: `orders ⇄ billing`, `a → b → c → a` for a longer cycle, or `orders ⟲`
        /// for a holder waiting for its own lock.
        public var cycle: String {
            let names = links.map { RecordKey.shownKey(ofLockName: $0.lockName) }
            switch names.count {
            case 1: return "\(names[0]) ⟲"
            case 2: return "\(names[0]) ⇄ \(names[1])"
            default: return (names + [names[0]]).joined(separator: " → ")
            }
        }

        /// The cycle and its holders: `orders ⇄ billing (pid 4242, pid 4250)`.
        public var summary: String {
            cycle + " (" + links.map { "pid \($0.holderProcessID)" }.joined(separator: ", ") + ")"
        }
    }

    private let locks: [Lock]

    /// The graph of `locks`; only locks with a known holder and waiters can be in a cycle.
    public init(_ locks: [Lock]) {
        self.locks = locks.filter { $0.holder != nil && !$0.waiters.isEmpty }
    }

    /// The graph of `locks` as `identify` and `classify` see them: a monitor's, or what `list`
    /// reads from what a watching locktop published.
    public init(
        _ locks: some Sequence<LockEntry>, identify: (LockEntry) -> LockIdentity,
        classify: (LockEntry) -> LockClassification
    ) {
        self.init(
            locks.compactMap { lock in
                let identity = identify(lock)
                guard !identity.waiters.isEmpty, let holder = identity.holderProcess else { return nil }
                return Lock(
                    lockName: lock.name, holder: holder, holderLiveness: classify(lock).liveness,
                    waiters: identity.waiters)
            })
    }

    /// Every cycle, each once, certain ones first. A process that waits for a lock it holds itself
    /// is a cycle of one, and only a possible deadlock: the watch does not tell its threads apart,
    /// and the same thread waiting (nested transactions on one key) is a deadlock, another thread
    /// mere self-contention. Processes are told
    /// apart by pid: the waiters are running processes of this host, and a holder whose pid was
    /// reused is not alive, which makes any cycle through it only possible.
    public func deadlocks() -> [Deadlock] {
        // An edge from a waiter to the holder of the lock it waits for.
        var edges: [Int32: [(lock: Lock, holder: Int32)]] = [:]
        for lock in locks {
            let holder = lock.holder!.processID
            for waiter in lock.waiters where waiter.process.processID != holder {
                edges[waiter.process.processID, default: []].append((lock, holder))
            }
        }
        var found: [Deadlock] = []
        var seen: Set<[String]> = []
        var finished: Set<Int32> = []
        /// Depth-first from `node`; `path` holds each step taken to it: a process and the lock it
        /// waits for. An edge back to a process on the path closes a cycle.
        func visit(_ node: Int32, path: [(process: Int32, lock: Lock)]) {
            for (lock, holder) in edges[node] ?? [] {
                let path = path + [(node, lock)]
                if let start = path.firstIndex(where: { $0.process == holder }) {
                    record(path[start...].map(\.lock))
                } else if !finished.contains(holder) {
                    visit(holder, path: path)
                }
            }
            finished.insert(node)
        }
        /// Records the cycle `cycle` (each lock held by the process that waits for the next one), once.
        func record(_ cycle: [Lock]) {
            let first = cycle.indices.min { cycle[$0].lockName < cycle[$1].lockName }!
            let ordered = Array(cycle[first...] + cycle[..<first])
            guard seen.insert(ordered.map(\.lockName)).inserted else { return }
            found.append(
                Deadlock(
                    links: ordered.map {
                        Deadlock.Link(
                            lockName: $0.lockName, holderProcessID: $0.holder!.processID,
                            holderCommand: $0.holder!.command)
                    }, isCertain: ordered.allSatisfy(\.holderIsAlive)))
        }
        for node in edges.keys.sorted() where !finished.contains(node) { visit(node, path: []) }
        for lock in locks where lock.waiters.contains(where: { $0.process.processID == lock.holder!.processID }) {
            let holder = lock.holder!
            found.append(
                Deadlock(
                    links: [
                        .init(lockName: lock.lockName, holderProcessID: holder.processID, holderCommand: holder.command)
                    ],
                    isCertain: false))
        }
        return found.sorted {
            ($0.isCertain ? 0 : 1, $0.links[0].lockName) < ($1.isCertain ? 0 : 1, $1.links[0].lockName)
        }
    }

    /// A lock with waiters in the blocking tree: its holder, and its waiters with what each holds.
    public struct Blocker: Equatable, Sendable {
        public var lockName: String
        public var holder: ProcessDetails
        public var holderLiveness: Liveness
        /// Its waiters, longest first, each with the locks it holds itself (and their waiters).
        public var waiters: [Blocked]
        /// How long every process below it has waited, in all.
        public var totalWaited: TimeInterval
    }

    /// A waiter in the blocking tree, and the locks it holds that others wait for.
    public struct Blocked: Equatable, Sendable {
        public var waiter: IdentityLedger.Waiter
        public var holds: [Blocker]
    }

    /// The blocking tree at `now`, as pg_activity's blocking view and `lsblk` show theirs: at each
    /// root a lock whose holder waits for nothing (or, for a cycle, the lock that sorts first), its
    /// waiters below it, and under each waiter the locks it holds with their waiters. A chain shows
    /// whole: a lock whose holder waits on another lock is under that lock. Roots come in order of
    /// total time waited, longest first.
    public func blockingTree(at now: Date) -> [Blocker] {
        var held: [Int32: [Lock]] = [:]
        for lock in locks { held[lock.holder!.processID, default: []].append(lock) }
        let waiting = Set(locks.flatMap { $0.waiters.map(\.process.processID) })
        var placed: Set<String> = []
        func node(_ lock: Lock) -> Blocker {
            placed.insert(lock.lockName)
            var total: TimeInterval = 0
            let waiters = lock.waiters.sorted { $0.since < $1.since }.map { waiter -> Blocked in
                total += max(0, now.timeIntervalSince(waiter.since))
                let holds = (held[waiter.process.processID] ?? []).filter { !placed.contains($0.lockName) }
                    .sorted { $0.lockName < $1.lockName }.map(node)
                total += holds.map(\.totalWaited).reduce(0, +)
                return Blocked(waiter: waiter, holds: holds)
            }
            return Blocker(
                lockName: lock.lockName, holder: lock.holder!, holderLiveness: lock.holderLiveness, waiters: waiters,
                totalWaited: total)
        }
        var roots = locks.filter { !waiting.contains($0.holder!.processID) }.sorted { $0.lockName < $1.lockName }
            .map(node)
        // What a cycle holds has no root of its own: it starts at its first lock.
        for lock in locks.sorted(by: { $0.lockName < $1.lockName }) where !placed.contains(lock.lockName) {
            roots.append(node(lock))
        }
        return roots.sorted { $0.totalWaited > $1.totalWaited }
    }
}
