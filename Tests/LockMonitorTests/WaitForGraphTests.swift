import Foundation
import LockReports
import XCTest

@testable import LockMonitor

/// Cycles of the wait-for graph, on values.
final class WaitForGraphTests: XCTestCase {
    let now = Date(timeIntervalSince1970: 1_795_636_126)

    func process(_ pid: Int32) -> ProcessDetails {
        ProcessDetails(processID: pid, hostName: "here", startTicks: UInt64(pid) * 10, command: "python flow-\(pid).py")
    }

    /// `name`, held by `holder`, waited for by `waiters`.
    func lock(_ name: String, heldBy holder: Int32?, alive: Bool = true, waiters: [Int32]) -> WaitForGraph.Lock {
        WaitForGraph.Lock(
            lockName: "\(name).lock", holder: holder.map(process), holderLiveness: alive ? .alive : .dead,
            waiters: waiters.map { IdentityLedger.Waiter(process: process($0), since: now, lastSeen: now, reads: 5) })
    }

    func testTwoProcessesEachHoldingWhatTheOtherWaitsForAreADeadlock() {
        let graph = WaitForGraph([
            lock("orders", heldBy: 4242, waiters: [4250]), lock("billing", heldBy: 4250, waiters: [4242]),
            lock("reports", heldBy: 1, waiters: [2]),
        ])
        let found = graph.deadlocks()
        XCTAssertEqual(found.count, 1, "reported once, from either end")
        XCTAssertEqual(found.first?.links.map(\.lockName), ["billing.lock", "orders.lock"])
        XCTAssertEqual(found.first?.links.map(\.holderProcessID), [4250, 4242])
        XCTAssertEqual(found.first?.isCertain, true)
        XCTAssertEqual(found.first?.summary, "billing ⇄ orders (pid 4250, pid 4242)")
    }

    func testAThreeProcessCycleIsOneDeadlockAndAChainIsNone() {
        let cycle = WaitForGraph([
            lock("a", heldBy: 1, waiters: [3]), lock("b", heldBy: 2, waiters: [1]), lock("c", heldBy: 3, waiters: [2]),
        ])
        // a's holder (1) waits for b, b's holder (2) waits for c, and c's holder (3) waits for a.
        XCTAssertEqual(cycle.deadlocks().map(\.summary), ["a → b → c → a (pid 1, pid 2, pid 3)"])
        let chain = WaitForGraph([
            lock("a", heldBy: 1, waiters: [2, 3]), lock("b", heldBy: 2, waiters: [3]),
            lock("c", heldBy: 3, waiters: []),
        ])
        XCTAssertEqual(chain.deadlocks(), [], "waiting in a line is contention, not a deadlock")
    }

    func testACycleThroughAHolderNotKnownAliveIsOnlyPossible() {
        let graph = WaitForGraph([
            lock("orders", heldBy: 4242, alive: false, waiters: [4250]), lock("billing", heldBy: 4250, waiters: [4242]),
        ])
        XCTAssertEqual(graph.deadlocks().map(\.isCertain), [false])
    }

    func testAProcessWaitingOnItsOwnLockIsAPossibleDeadlockAndALockWithoutAHolderCloseNoCycle() {
        let graph = WaitForGraph([
            lock("self", heldBy: 7, waiters: [7]), lock("nobody", heldBy: nil, waiters: [8]),
            lock("held", heldBy: 8, waiters: []),
        ])
        let found = graph.deadlocks()
        XCTAssertEqual(found.map(\.summary), ["self ⟲ (pid 7)"])
        XCTAssertEqual(found.map(\.isCertain), [false], "its threads are not told apart")
    }

    func testTwoSeparateDeadlocksAreBothFoundCertainFirst() {
        let graph = WaitForGraph([
            lock("a", heldBy: 1, alive: false, waiters: [2]), lock("b", heldBy: 2, waiters: [1]),
            lock("x", heldBy: 10, waiters: [11]), lock("y", heldBy: 11, waiters: [10]),
        ])
        XCTAssertEqual(graph.deadlocks().map(\.links.first?.lockName), ["x.lock", "a.lock"])
    }
}

/// The blocking tree, on values.
final class BlockingTreeTests: XCTestCase {
    let now = Date(timeIntervalSince1970: 1_795_636_126)

    func lock(_ name: String, heldBy holder: Int32, alive: Bool = true, waiters: [(Int32, TimeInterval)])
        -> WaitForGraph.Lock
    {
        let process = { (pid: Int32) in
            ProcessDetails(processID: pid, hostName: "here", startTicks: 1, command: "python flow-\(pid).py")
        }
        return WaitForGraph.Lock(
            lockName: "\(name).lock", holder: process(holder), holderLiveness: alive ? .alive : .dead,
            waiters: waiters.map {
                IdentityLedger.Waiter(
                    process: process($0.0), since: now.addingTimeInterval(-$0.1), lastSeen: now, reads: 5)
            })
    }

    func testAChainHangsUnderTheLockItWaitsForAndRootsGoByTimeWaited() {
        // 20 waits 60 s for b, whose holder 30 is dead; 20 holds a, for which 40 waits 10 s.
        // Apart, 50 waits 5 s for c.
        let tree = WaitForGraph([
            lock("a", heldBy: 20, waiters: [(40, 10)]), lock("b", heldBy: 30, alive: false, waiters: [(20, 60)]),
            lock("c", heldBy: 60, waiters: [(50, 5)]),
        ]).blockingTree(at: now)
        XCTAssertEqual(tree.map(\.lockName), ["b.lock", "c.lock"])
        XCTAssertEqual(tree[0].totalWaited, 70)
        XCTAssertEqual(tree[0].holderLiveness, .dead)
        XCTAssertEqual(tree[0].waiters.map(\.waiter.process.processID), [20])
        XCTAssertEqual(tree[0].waiters[0].holds.map(\.lockName), ["a.lock"])
        XCTAssertEqual(tree[0].waiters[0].holds[0].waiters.map(\.waiter.process.processID), [40])
    }

    func testTheTreeIsDrawnAsDocumented() {
        let tree = WaitForGraph([
            lock("a", heldBy: 20, waiters: [(40, 10)]), lock("b", heldBy: 30, alive: false, waiters: [(20, 60)]),
            lock("c", heldBy: 60, waiters: [(50, 5), (51, 2)]),
        ]).blockingTree(at: now)
        XCTAssertEqual(
            BlockingReport.lines(tree, now: now),
            [
                "b  held by pid 30 python flow-30.py (dead) · 1 waiter, 1m10s waited in all",
                "└─ pid 20 python flow-20.py, waiting 1m00s",
                "   └─ a  held by pid 20 python flow-20.py · 1 waiter, 10s waited in all",
                "      └─ pid 40 python flow-40.py, waiting 10s",
                "c  held by pid 60 python flow-60.py · 2 waiters, 7s waited in all",
                "├─ pid 50 python flow-50.py, waiting 5s",
                "└─ pid 51 python flow-51.py, waiting 2s",
            ])
        XCTAssertEqual(BlockingReport.lines([], now: now), ["no process is seen waiting for a lock"])
    }

    func testACycleStartsAtItsFirstLockAndEndsWhereItCameBack() {
        let tree = WaitForGraph([lock("a", heldBy: 1, waiters: [(2, 3)]), lock("b", heldBy: 2, waiters: [(1, 4)])])
            .blockingTree(at: now)
        XCTAssertEqual(tree.map(\.lockName), ["a.lock"])
        XCTAssertEqual(tree[0].waiters[0].holds.map(\.lockName), ["b.lock"])
        XCTAssertEqual(tree[0].waiters[0].holds[0].waiters[0].holds, [], "a is placed already")
        XCTAssertEqual(tree[0].totalWaited, 7)
    }
}
