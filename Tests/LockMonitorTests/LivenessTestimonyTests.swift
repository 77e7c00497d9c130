import Foundation
import LockMonitor
import XCTest

/// How the remote testimonies decide together, and what a flow run's state testifies.
final class LivenessTestimonyTests: XCTestCase {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func testimony(_ source: LivenessTestimony.Source, _ verdict: LivenessTestimony.Verdict) -> LivenessTestimony {
        LivenessTestimony(
            source: source, verdict: verdict, observedAt: now, reason: "\(source.rawValue) says \(verdict)")
    }

    func testAFreshHeartbeatOutranksACrashedRunAndTheRunBecomesTheWarning() throws {
        let decision = try XCTUnwrap(
            LivenessTestimony.decision(among: [testimony(.prefectAPI, .dead), testimony(.heartbeat, .alive)]))
        XCTAssertEqual(decision.decisive.source, .heartbeat)
        XCTAssertEqual(decision.decisive.verdict, .alive)
        XCTAssertEqual(decision.warning, "but prefect-api says dead")
    }

    func testAnAgentOutranksAHeartbeatAndSilenceDecidesNothing() throws {
        let decision = try XCTUnwrap(
            LivenessTestimony.decision(among: [testimony(.heartbeat, .alive), testimony(.agent, .dead)]))
        XCTAssertEqual(decision.decisive.source, .agent)
        XCTAssertEqual(decision.decisive.verdict, .dead)
        XCTAssertNotNil(decision.warning)
        // A silent agent (unknown) leaves the heartbeat to decide, with nothing to warn of.
        let silent = try XCTUnwrap(
            LivenessTestimony.decision(among: [testimony(.agent, .unknown), testimony(.heartbeat, .dead)]))
        XCTAssertEqual(silent.decisive.source, .heartbeat)
        XCTAssertNil(silent.warning)
        XCTAssertNil(LivenessTestimony.decision(among: [testimony(.agent, .unknown)]), "silence alone decides nothing")
        XCTAssertNil(LivenessTestimony.decision(among: []))
    }

    func testAnEndedRunIsDeadARunningOneAliveAndAnyOtherStateNoEvidence() throws {
        let crashed = FlowRunState(runName: "crimson-fox", type: "CRASHED", since: now.addingTimeInterval(-180))
        let dead = try XCTUnwrap(crashed.testimony(observedAt: now, now: now))
        XCTAssertEqual(dead.verdict, .dead)
        XCTAssertEqual(dead.source, .prefectAPI)
        XCTAssertEqual(dead.reason, "flow run \"crimson-fox\" CRASHED 3m00s ago; its lock was never released")
        for type in ["COMPLETED", "FAILED", "CANCELLED"] {
            XCTAssertEqual(
                FlowRunState(runName: "r", type: type, since: nil).testimony(observedAt: now, now: now)?.verdict, .dead)
        }
        let running = FlowRunState(runName: "r", type: "RUNNING", since: now)
        XCTAssertEqual(running.testimony(observedAt: now, now: now)?.verdict, .alive)
        for type in ["PENDING", "SCHEDULED", "PAUSED", "CANCELLING", ""] {
            XCTAssertNil(FlowRunState(runName: "r", type: type, since: nil).testimony(observedAt: now, now: now), type)
        }
    }
}
