import Foundation
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
            lockName: "\(name).lock", holder: holder.map(process), holderIsAlive: alive,
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

    func testAProcessWaitingOnItsOwnLockAndALockWithoutAHolderCloseNoCycle() {
        let graph = WaitForGraph([
            lock("self", heldBy: 7, waiters: [7]), lock("nobody", heldBy: nil, waiters: [8]),
            lock("held", heldBy: 8, waiters: []),
        ])
        XCTAssertEqual(graph.deadlocks(), [])
    }

    func testTwoSeparateDeadlocksAreBothFoundCertainFirst() {
        let graph = WaitForGraph([
            lock("a", heldBy: 1, alive: false, waiters: [2]), lock("b", heldBy: 2, waiters: [1]),
            lock("x", heldBy: 10, waiters: [11]), lock("y", heldBy: 11, waiters: [10]),
        ])
        XCTAssertEqual(graph.deadlocks().map(\.links.first?.lockName), ["x.lock", "a.lock"])
    }
}
