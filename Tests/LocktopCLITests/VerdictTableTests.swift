import Dashboard
import DashboardSources
import Foundation
import LockMonitor
import LocktopTestSupport
import RecordStore
import XCTest

/// Every surface gives the same verdict for the same lock at the same moment: `list --json`, the
/// `list` table, `list --check`, `break --dry-run`, `release`, the dashboard's rows and `events`,
/// over dead, alive, unknown, old, expired, unreadable and writing locks, with the evidence from
/// the pid in the file, the helper's fields, `identities.json` (what a watching root locktop
/// learned from fanotify), or nothing.
final class VerdictTableTests: XCTestCase {
    /// One lock situation: the file, the evidence, and the one verdict every surface must give.
    struct Situation {
        var key: String
        var content: [UInt8]
        var age: TimeInterval = 5
        /// The creator to publish in identities.json, as a watching root locktop would.
        var published: ProcessDetails?
        var verdict: String
    }

    func testEverySurfaceGivesOneVerdict() throws {
        let directory = TestSupport.temporaryDirectory(for: self)
        let state = TestSupport.temporaryDirectory(for: self)
        let host = ProcessIdentity.current.hostName
        let alive = Process()
        alive.executableURL = URL(fileURLWithPath: "/bin/sleep")
        alive.arguments = ["600"]
        try alive.run()
        defer {
            alive.terminate()
            alive.waitUntilExit()
        }
        let live = alive.processIdentifier
        let liveTicks = ProcessIdentity.startTicks(of: live)
        let gone = TestSupport.goneProcessID()
        func json(_ content: LockFileContent) -> [UInt8] { content.encoded() }
        func process(_ pid: Int32, ticks: UInt64?) -> ProcessDetails {
            ProcessDetails(processID: pid, hostName: host, startTicks: ticks, command: "python worker.py run\(pid)")
        }
        let uuid = "9d87db93-4b04-4bf0-90ec-0d6f20a226f9"
        let situations = [
            Situation(
                key: "dead-pid",
                content: json(LockFileContent(holder: "\(host):\(gone):1:MainThread", expiration: nil)),
                verdict: "stale"),
            Situation(
                key: "dead-helper",
                content: json(LockFileContent(holder: uuid, expiration: nil, hostName: host, processID: gone)),
                verdict: "stale"),
            Situation(
                key: "dead-published", content: json(LockFileContent(holder: uuid, expiration: nil)),
                published: process(gone, ticks: 1), verdict: "stale"),
            // fanotify read the write after its process had exited: dead, though the pid now names a live process.
            Situation(
                key: "exited-published", content: json(LockFileContent(holder: uuid, expiration: nil)),
                published: .exited(live, hostName: host), verdict: "stale"),
            Situation(
                key: "alive-pid",
                content: json(LockFileContent(holder: "\(host):\(live):1:MainThread", expiration: nil)), verdict: "held"
            ),
            Situation(
                key: "alive-helper",
                content: json(
                    LockFileContent(
                        holder: uuid, expiration: nil, hostName: host, processID: live,
                        processStartTicks: liveTicks)), verdict: "held"),
            Situation(
                key: "alive-published", content: json(LockFileContent(holder: uuid, expiration: nil)),
                published: process(live, ticks: liveTicks), verdict: "held"),
            Situation(
                key: "old-alive-published", content: json(LockFileContent(holder: uuid, expiration: nil)), age: 7200,
                published: process(live, ticks: liveTicks), verdict: "held"),
            Situation(
                key: "unknown", content: json(LockFileContent(holder: uuid, expiration: nil)), verdict: "held_unknown"),
            Situation(
                key: "old", content: json(LockFileContent(holder: uuid, expiration: nil)), age: 7200, verdict: "suspect"
            ),
            Situation(
                key: "old-remote", content: json(LockFileContent(holder: "elsewhere:77:1:MainThread", expiration: nil)),
                age: 7200,
                verdict: "suspect"),
            Situation(
                key: "expired",
                content: json(LockFileContent(holder: uuid, expiration: Date().addingTimeInterval(-30))),
                verdict: "expired"),
            Situation(key: "unreadable", content: Array(#"{"holder": "wor"#.utf8), age: 600, verdict: "unreadable"),
            Situation(key: "writing", content: [], age: 0, verdict: "writing"),
        ]
        // events watches from before the files come, so it sees each one appear (it has no identities.json for them).
        let events = try TestSupport.start(
            TestSupport.executable("locktop"),
            ["events", "--dir", directory, "--json", "--no-fanotify", "--grace", "30"],
            environment: ["XDG_STATE_HOME": TestSupport.temporaryDirectory(for: self)])
        defer {
            events.signal(SIGTERM)
            _ = events.wait(timeout: 10)
        }
        usleep(400_000)
        var records: [IdentityFile.Key: IdentityFile.Record] = [:]
        for situation in situations {
            let path = "\(directory)/\(situation.key).lock"
            _ = try LockFiles.replace(path: path, bytes: situation.content)
            var times = [
                timespec(tv_sec: time(nil) - Int(situation.age), tv_nsec: 0),
                timespec(tv_sec: time(nil) - Int(situation.age), tv_nsec: 0),
            ]
            XCTAssertEqual(utimensat(AT_FDCWD, path, &times, 0), 0)
            if let creator = situation.published {
                let status = try XCTUnwrap(LockEntry.read("\(situation.key).lock", in: DirectoryHandle.open(directory)))
                    .status
                records[IdentityFile.Key(status)] = IdentityFile.Record(creator: creator, waiters: [])
            }
        }
        let auditLog = AuditLog(path: "\(state)/locktop/audit.log")
        try IdentityFile(besides: auditLog).save(records)
        let environment = ["XDG_STATE_HOME": state]
        func locktop(_ arguments: [String]) throws -> TestSupport.Outcome {
            try TestSupport.run(
                TestSupport.executable("locktop"), arguments + ["--dir", directory, "--grace", "30"],
                environment: environment)
        }
        let expected = Dictionary(uniqueKeysWithValues: situations.map { ($0.key, $0.verdict) })

        // list --json
        let listed = try locktop(["list", "--json"])
        let document = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(listed.standardOutput.utf8)) as? [String: Any])
        let locks = try XCTUnwrap(document["locks"] as? [[String: Any]])
        XCTAssertEqual(
            Dictionary(uniqueKeysWithValues: locks.map { ($0["key"] as! String, $0["verdict"] as! String) }), expected,
            "list --json")
        // the list table's STATE column
        let table = try locktop(["list", "-n", "-o", "key,state", "--locks-only"])
        let labels = Dictionary(
            uniqueKeysWithValues: table.standardOutput.split(separator: "\n").compactMap { line -> (String, String)? in
                let words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
                return words.count == 2 && expected[words[0]] != nil ? (words[0], words[1]) : nil
            })
        XCTAssertEqual(
            labels, expected.mapValues { $0 == "held_unknown" ? "held?" : $0 },
            "the list table: \(table.standardOutput)")
        // list --check counts the states that need someone
        let check = try locktop(["list", "--check"])
        XCTAssertEqual(check.status, 1)
        XCTAssertEqual(check.standardError, "locktop: check: 2 suspect, 1 expired, 4 stale, 1 unreadable of 14 locks\n")
        // break --dry-run, asked for every breakable state
        let dryRun = try locktop(["break", "--dry-run", "--json", "--expired", "--stale", "--suspect"])
        let wouldBreak = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(dryRun.standardOutput.utf8)) as? [String: Any])
        let broken = try XCTUnwrap(wouldBreak["broken"] as? [[String: Any]])
        XCTAssertEqual(
            Dictionary(uniqueKeysWithValues: broken.map { ($0["key"] as! String, $0["verdict"] as! String) }),
            expected.filter { ["stale", "suspect", "expired"].contains($0.value) }, "break --dry-run")
        // the default bulk break: expired and stale, never a suspect
        let bulk = try locktop(["break", "--dry-run"])
        XCTAssertEqual(
            Set(
                bulk.standardOutput.split(separator: "\n").compactMap {
                    $0.split(separator: " ").dropFirst(2).first.map(String.init)
                }),
            Set(expected.filter { ["stale", "expired"].contains($0.value) }.keys), bulk.standardOutput)

        // the dashboard's rows, from a monitor that reads the same identities.json
        let monitor = try LockMonitor(
            configuration: .init(
                recordsDirectory: directory, classifier: LockClassifier(gracePeriod: 30),
                auditLog: auditLog, watchesProcesses: false))
        let source = DirectoryDashboardSource(monitor: monitor, breaker: LockBreaker(auditLog: auditLog))
        let rows = source.data(now: Date()).rows.filter { $0.lockName != nil }
        XCTAssertEqual(
            Dictionary(uniqueKeysWithValues: rows.map { ($0.key, StateStyle.of($0).label.lowercased()) }),
            expected.mapValues { $0 == "held_unknown" ? "held?" : $0 }, "the dashboard's rows")

        // events announces the stale, suspect and unreadable ones it saw appear (it knows no published creator)
        let announced = [
            "stale": Set(["dead-pid", "dead-helper"]), "suspect": Set(["old", "old-remote"]),
            "unreadable": Set(["unreadable"]),
        ]
        XCTAssertTrue(
            TestSupport.eventually(timeout: 5) {
                announced.allSatisfy { kind, keys in
                    keys.allSatisfy { events.standardOutput.contains(#""type": "\#(kind)", "key": "\#($0)""#) }
                }
            }, events.standardOutput)
        for kind in ["stale", "suspect"] {
            for key in ["alive-pid", "alive-helper", "unknown", "expired", "writing"] {
                XCTAssertFalse(
                    events.standardOutput.contains(#""type": "\#(kind)", "key": "\#(key)""#), "\(kind) \(key)")
            }
        }

        // release, last: it breaks what its verdict allows when named, and refuses the rest untouched
        for situation in situations {
            let outcome = try locktop(["release", situation.key])
            let breakable = ["stale", "suspect", "expired"].contains(situation.verdict)
            XCTAssertEqual(outcome.status, breakable ? 0 : 3, "\(situation.key): \(outcome.standardError)")
            XCTAssertEqual(
                FileManager.default.fileExists(atPath: "\(directory)/\(situation.key).lock"), !breakable, situation.key)
            if !breakable {
                XCTAssertTrue(
                    outcome.standardError.contains(
                        "is \(situation.verdict == "held_unknown" ? "held?" : situation.verdict)"),
                    outcome.standardError)
            }
        }
    }
}
