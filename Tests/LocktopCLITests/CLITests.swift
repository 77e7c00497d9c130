import Foundation
import LocktopTestSupport
import RecordStore
import XCTest

/// The built `locktop` binary, run as a user would.
final class CLITests: XCTestCase {
    var directory = ""
    var state = ""

    override func setUp() {
        directory = TestSupport.temporaryDirectory(for: self)
        state = TestSupport.temporaryDirectory(for: self)
    }

    @discardableResult
    func locktop(_ arguments: [String], timeout: TimeInterval = 60) throws -> TestSupport.Outcome {
        try TestSupport.run(
            TestSupport.executable("locktop"), arguments, environment: ["XDG_STATE_HOME": state], timeout: timeout)
    }

    func write(_ name: String, _ content: LockFileContent) throws {
        try LockFiles.replace(path: "\(directory)/\(name)", bytes: content.encoded())
    }

    func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    func testListSaysOnStandardErrorThatTheAgentReportsCannotBeRead() throws {
        try write("task.lock", LockFileContent(holder: "8f14e45f-ceea-467f-a0e6-8d5e1b7f2a11", expiration: nil))
        // Nothing listens on port 1 here.
        let listed = try locktop(["list", "--dir", directory, "--json", "--agent-reports", "redis://127.0.0.1:1/0"])
        XCTAssertEqual(listed.status, 0, listed.standardError)
        XCTAssertEqual(
            (try json(listed.standardOutput)["locks"] as? [[String: Any]])?.first?["liveness"] as? String, "unknown")
        XCTAssertTrue(
            listed.standardError.hasPrefix("locktop: warning: agent reports at redis://127.0.0.1:1/0 cannot be read ("),
            listed.standardError)
    }

    /// Found by the soak: started directly under libfaketime's LD_PRELOAD, locktop sees no
    /// arguments at all (argc 0), and once trapped on an empty range while hiding passwords.
    func testNoArgumentsAtAllIsAnErrorNotACrash() throws {
        let faketime = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
        guard FileManager.default.fileExists(atPath: faketime) else {
            if TestSupport.isCI { XCTFail("setup.sh installs faketime") }
            throw XCTSkip("no libfaketime")
        }
        let home = TestSupport.temporaryDirectory(for: self)
        let outcome = try TestSupport.run(
            TestSupport.executable("locktop"), ["version"],
            environment: ["LD_PRELOAD": faketime, "FAKETIME": "+0", "HOME": home, "XDG_STATE_HOME": home])
        XCTAssertFalse(outcome.standardError.contains("Fatal error"), outcome.standardError)
        XCTAssertTrue([0, 64].contains(outcome.status), "\(outcome.status): \(outcome.standardError)")
    }

    func testListJsonShowsRecordsLocksStatesAndSharedLockFiles() throws {
        for key in ["task.b", "task.c", "solo"] {
            try Data(#"{"type":"reference","storage_key":"x"}"#.utf8).write(
                to: URL(fileURLWithPath: "\(directory)/\(key)"))
        }
        try write(
            "task.lock",
            LockFileContent(holder: "elsewhere:12:34:MainThread", expiration: Date().addingTimeInterval(300)))
        try write("gone.lock", LockFileContent(holder: "uuid-1", expiration: Date().addingTimeInterval(-60)))
        try write(
            "dead.lock",
            LockFileContent(holder: "\(ProcessIdentity.currentHostName()):999999:1:MainThread", expiration: nil))
        FileManager.default.createFile(
            atPath: "\(directory)/empty.lock", contents: Data(),
            attributes: [.modificationDate: Date().addingTimeInterval(-30)])
        let outcome = try locktop(["list", "--dir", directory, "--json"])
        XCTAssertEqual(outcome.status, 0, outcome.standardError)
        let document = try json(outcome.standardOutput)
        let records = try XCTUnwrap(document["records"] as? [[String: Any]])
        XCTAssertEqual(
            records.compactMap { $0["key"] as? String }.sorted(), ["solo", "task.b", "task.c"],
            "records come in directory order")
        XCTAssertNotNil(records.first?["size"] as? Int)
        XCTAssertNotNil(records.first?["modified"] as? String)
        let locks = try XCTUnwrap(document["locks"] as? [[String: Any]])
        let byKey = Dictionary(uniqueKeysWithValues: locks.map { ($0["key"] as! String, $0) })
        XCTAssertEqual(byKey["task"]?["state"] as? String, "held")
        XCTAssertEqual(byKey["task"]?["records"] as? [String], ["task.b", "task.c"])
        XCTAssertEqual(byKey["task"]?["shared"] as? Bool, true)
        XCTAssertEqual(try XCTUnwrap(byKey["task"]?["expires_in_seconds"] as? Double), 300, accuracy: 30)
        XCTAssertEqual(byKey["gone"]?["state"] as? String, "expired")
        XCTAssertEqual(byKey["dead"]?["state"] as? String, "stale")
        XCTAssertEqual(byKey["empty"]?["state"] as? String, "unreadable")
        XCTAssertTrue(byKey["empty"]?["holder"] is NSNull)
        XCTAssertEqual(document["audit_log"] as? String, "\(state)/locktop/audit.log")
        let table = try locktop(["list", "--dir", directory])
        XCTAssertTrue(table.standardOutput.contains("shared: task.b,task.c"), table.standardOutput)
        XCTAssertTrue(table.standardOutput.contains("audit log: \(state)/locktop/audit.log"))
        XCTAssertFalse(table.standardOutput.contains("\u{1B}"), "no colour when piped")
    }

    func testListColumnsHeadingsRecordsAndTheCheckProbe() throws {
        try write(
            "task.lock", LockFileContent(holder: "web-1:4242:1:MainThread", expiration: Date().addingTimeInterval(600)))
        for name in ["task.b", "zeta", "alpha"] {
            FileManager.default.createFile(atPath: "\(directory)/\(name)", contents: Data("{}".utf8))
        }
        let healthy = try locktop(["list", "--dir", directory, "--check"])
        XCTAssertEqual(healthy.status, 0, healthy.standardError)
        XCTAssertEqual(healthy.standardError, "locktop: check: ok, 1 lock\n")
        XCTAssertTrue(healthy.standardOutput.contains("3 records (2 without a lock), 1 lock\n"), healthy.standardOutput)
        XCTAssertTrue(
            healthy.standardOutput.contains("records without a lock:\n  alpha\n  zeta\n"), "one per line, sorted")
        try write("gone.lock", LockFileContent(holder: "x", expiration: Date().addingTimeInterval(-60)))
        let failing = try locktop(["list", "--dir", directory, "--check", "-n", "-o", "KEY,state", "--locks-only"])
        XCTAssertEqual(failing.status, 1)
        XCTAssertEqual(failing.standardError, "locktop: check: 1 expired of 2 locks\n")
        XCTAssertTrue(
            failing.standardOutput.hasPrefix("gone  expired\ntask  held?\n"),
            "no headings, two columns: \(failing.standardOutput)")
        XCTAssertFalse(failing.standardOutput.contains("alpha"), "--locks-only counts the records")
        // On a terminal, the table fits its width and the states are coloured.
        // (A moment's pause first: tmux drops what a pane prints in its first instant. swift test sets NO_COLOR.)
        let session = try TmuxSession(
            command: [
                "/bin/sh", "-c", "sleep 0.3; \"$0\" list --dir \"$1\"; sleep 30", TestSupport.executable("locktop"),
                directory,
            ],
            width: 40, height: 20, environment: ["XDG_STATE_HOME": state, "NO_COLOR": ""])
        XCTAssertTrue(session.waitForScreen { $0.contains("audit log") }, session.screen)
        XCTAssertTrue(
            session.run(["capture-pane", "-p", "-e", "-t", "0"]).output.contains("31mexpired"),
            session.run(["capture-pane", "-p", "-e", "-t", "0"]).output)
        let lines = session.screen.split(separator: "\n")
        XCTAssertTrue(
            lines.first?.hasPrefix("KEY   STATE") == true && lines.first?.contains("REASON") == false,
            "the least useful columns go first: \(session.screen)")
        XCTAssertTrue(lines.contains { $0.hasPrefix("gone  expired") }, session.screen)
        XCTAssertTrue(lines.contains { $0.hasPrefix("task  held") }, "no row wraps: \(session.screen)")
        let bad = try locktop(["list", "--dir", directory, "-o", "key,owner"])
        XCTAssertEqual(bad.status, 64)
        XCTAssertTrue(
            bad.standardError.contains(
                "unknown column \"owner\"; the columns are key,state,holder,expires,held,records,reason"),
            bad.standardError)
    }

    func testLockRunsTheCommandHoldingTheLockAndPassesItsStatus() throws {
        let outcome = try locktop([
            "lock", "--dir", directory, "task.b", "--hold-timeout", "30", "--",
            "/bin/sh", "-c", "cat \(directory)/task.lock; exit 7",
        ])
        XCTAssertEqual(outcome.status, 7, outcome.standardError)
        let content = try XCTUnwrap(LockFileContent(parsing: Array(outcome.standardOutput.utf8)))
        let holder = LockHolder(content.holder)
        XCTAssertEqual(holder.hostName, ProcessIdentity.currentHostName())
        XCTAssertNotNil(holder.processID)
        XCTAssertEqual(holder.threadName, "MainThread")
        XCTAssertNotNil(content.expiration)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), [], "released after the command")
    }

    func testLockTimesOutWithADistinctStatusAndNeverRunsTheCommand() throws {
        try write("k.lock", LockFileContent(holder: "someone-else", expiration: nil))
        let marker = "\(state)/ran"
        let outcome = try locktop([
            "lock", "--dir", directory, "k", "--acquire-timeout", "0.3", "--", "/usr/bin/touch", marker,
        ])
        XCTAssertEqual(outcome.status, 75)
        XCTAssertTrue(outcome.standardError.contains("was not acquired"), outcome.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker))
    }

    func testLockReleasesWhenSignalled() throws {
        let child = try TestSupport.start(
            TestSupport.executable("locktop"), ["lock", "--dir", directory, "k", "--", "/bin/sleep", "60"])
        XCTAssertTrue(TestSupport.eventually { FileManager.default.fileExists(atPath: "\(self.directory)/k.lock") })
        usleep(200_000)
        child.signal(SIGTERM)
        let outcome = child.wait(timeout: 30)
        XCTAssertEqual(outcome.status, 128 + SIGTERM)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(directory)/k.lock"))
    }

    func testASignalWhileWaitingEndsTheWaitAndTakesNothing() throws {
        try write("k.lock", LockFileContent(holder: "someone-else", expiration: nil))
        let marker = "\(state)/ran"
        let child = try TestSupport.start(
            TestSupport.executable("locktop"), ["lock", "--dir", directory, "k", "--", "/usr/bin/touch", marker])
        usleep(500_000)
        child.signal(SIGTERM)
        let outcome = child.wait(timeout: 10)
        XCTAssertEqual(outcome.status, 128 + SIGTERM)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker))
        XCTAssertEqual(
            try LockFileContent(parsing: Data(contentsOf: URL(fileURLWithPath: "\(directory)/k.lock")))?.holder,
            "someone-else")
    }

    func testReleaseRefusesALiveLockAndForceBreaksItWithAudit() throws {
        try write("task.lock", LockFileContent(holder: "elsewhere:1:2:MainThread", expiration: nil))
        let before = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/task.lock"))
        let refused = try locktop(["release", "--dir", directory, "task.b"])
        XCTAssertEqual(refused.status, 3, "refused has its own status")
        XCTAssertEqual(refused.standardError.split(separator: "\n").count, 1, "one clear line")
        XCTAssertTrue(refused.standardError.contains("refusing without --force"), refused.standardError)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(directory)/task.lock")), before)
        // --if-holder: the lock taken again since the operator looked is left alone, even with --force.
        let moved = try locktop(["release", "--dir", directory, "task.b", "--force", "--if-holder", "gone:9:9:Main"])
        XCTAssertEqual(moved.status, 3, moved.standardError)
        XCTAssertTrue(
            moved.standardError.contains(
                "lock \"task.b\" is held by \"elsewhere:1:2:MainThread\" now, not by \"gone:9:9:Main\" as shown"),
            moved.standardError)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(directory)/task.lock")), before)
        let forced = try locktop([
            "release", "--dir", directory, "task.b", "--force", "--if-holder", "elsewhere:1:2:MainThread",
        ])
        XCTAssertEqual(forced.status, 0, forced.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(directory)/task.lock"))
        let log = try String(contentsOfFile: "\(state)/locktop/audit.log", encoding: .utf8)
        let entry = try json(String(log.split(separator: "\n").last ?? ""))
        XCTAssertEqual(entry["key"] as? String, "task")
        XCTAssertEqual(entry["old_holder"] as? String, "elsewhere:1:2:MainThread")
        XCTAssertNotNil(entry["broken_by"] as? String)
        XCTAssertNotNil(entry["time"] as? String)
    }

    func testReleaseOwnHolderAndExpiredLock() throws {
        try write("mine.lock", LockFileContent(holder: "me", expiration: nil))
        let own = try locktop(["release", "--dir", directory, "mine", "--holder", "me"])
        XCTAssertEqual(own.status, 0, own.standardError)
        XCTAssertTrue(own.standardOutput.hasPrefix("released mine"), own.standardOutput)
        try write("old.lock", LockFileContent(holder: "other", expiration: Date().addingTimeInterval(-10)))
        let expired = try locktop(["release", "--dir", directory, "old"])
        XCTAssertEqual(expired.status, 0, expired.standardError)
        XCTAssertTrue(expired.standardOutput.contains("expired"), expired.standardOutput)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), [])
        let missing = try locktop(["release", "--dir", directory, "old"])
        XCTAssertEqual(missing.status, 4, "no such lock has its own status: \(missing.standardError)")
        XCTAssertTrue(missing.standardError.contains("no lock for key \"old\""), missing.standardError)
        let wrongHolder = try locktop(["release", "--dir", directory, "nothing", "--holder", "me"])
        XCTAssertEqual(wrongHolder.status, 4)
    }

    func testDirectoryOptionsBeforeTheSubcommandAndAMisspelledOneIsNamed() throws {
        try write("task.lock", LockFileContent(holder: "worker-1", expiration: nil))
        let before = try locktop(["--dir", directory, "--stale-after", "2h", "list", "--json"])
        XCTAssertEqual(before.status, 0, before.standardError)
        let locks = try XCTUnwrap(try json(before.standardOutput)["locks"] as? [[String: Any]])
        XCTAssertEqual(locks.map { $0["key"] as? String }, ["task"])
        let misspelled = try locktop(["lsit", "--dir", directory])
        XCTAssertEqual(misspelled.status, 64)
        XCTAssertEqual(misspelled.standardError, "locktop: error: unknown command \"lsit\"; did you mean \"list\"?\n")
        let unknown = try locktop(["--dir", directory, "frobnicate"])
        XCTAssertEqual(unknown.status, 64)
        XCTAssertTrue(
            unknown.standardError.contains("unknown command \"frobnicate\"; the commands are dashboard, demo, list"),
            unknown.standardError)
    }

    func testWithoutDirLocktopFindsAKnownPrefectLayoutOrSaysWhatItTried() throws {
        let home = "\(state)/prefect-home"
        let environment = ["XDG_STATE_HOME": state, "PREFECT_HOME": home, "LOCKTOP_DIR": "", "LOCKTOP_LOCKS_DIR": ""]
        let none = try TestSupport.run(TestSupport.executable("locktop"), ["list"], environment: environment)
        XCTAssertEqual(none.status, 64)
        XCTAssertTrue(
            none.standardError.contains("tried \(home)/records, \(home)/locks, \(home)/storage"), none.standardError)
        XCTAssertTrue(
            none.standardError.contains("--dir") && none.standardError.contains("--locks-dir"), none.standardError)
        try FileManager.default.createDirectory(atPath: "\(home)/locks", withIntermediateDirectories: true)
        try LockFiles.replace(
            path: "\(home)/locks/found.lock", bytes: LockFileContent(holder: "h", expiration: nil).encoded())
        let found = try TestSupport.run(
            TestSupport.executable("locktop"), ["list", "--json"], environment: environment)
        XCTAssertEqual(found.status, 0, found.standardError)
        XCTAssertEqual(try json(found.standardOutput)["records_directory"] as? String, "\(home)/locks")
        // Prefect 3.1+: results in storage, locks apart: found as a pair.
        try FileManager.default.createDirectory(atPath: "\(home)/storage", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: "\(home)/storage/found", contents: Data("{}".utf8))
        let paired = try json(
            TestSupport.run(TestSupport.executable("locktop"), ["list", "--json"], environment: environment)
                .standardOutput)
        XCTAssertEqual(paired["records_directory"] as? String, "\(home)/storage")
        XCTAssertEqual(paired["locks_directory"] as? String, "\(home)/locks")
        let pairedLocks = try XCTUnwrap(paired["locks"] as? [[String: Any]])
        XCTAssertEqual(pairedLocks.first?["records"] as? [String], ["found"], "the lock maps to its result in storage")
        let fromEnvironment = try TestSupport.run(
            TestSupport.executable("locktop"), ["list", "--json"],
            environment: [
                "XDG_STATE_HOME": state, "PREFECT_HOME": home, "LOCKTOP_DIR": directory,
                "LOCKTOP_LOCKS_DIR": "\(home)/locks",
                "LOCKTOP_STALE_AFTER": "1s",
            ])
        XCTAssertEqual(fromEnvironment.status, 0, fromEnvironment.standardError)
        let document = try json(fromEnvironment.standardOutput)
        XCTAssertEqual(document["records_directory"] as? String, directory)
        XCTAssertEqual(document["locks_directory"] as? String, "\(home)/locks")
        sleep(2)
        let stale = try TestSupport.run(
            TestSupport.executable("locktop"), ["list", "--json"],
            environment: [
                "XDG_STATE_HOME": state, "LOCKTOP_DIR": directory, "LOCKTOP_LOCKS_DIR": "\(home)/locks",
                "LOCKTOP_STALE_AFTER": "1s",
            ])
        let locks = try XCTUnwrap(try json(stale.standardOutput)["locks"] as? [[String: Any]])
        XCTAssertEqual(locks.first?["state"] as? String, "suspect", "LOCKTOP_STALE_AFTER sets --stale-after")
    }

    func testEventsWaitsForADirectoryThatDoesNotExistYet() throws {
        let later = "\(state)/later"
        let events = try TestSupport.start(
            TestSupport.executable("locktop"), ["events", "--json", "--dir", later],
            environment: ["XDG_STATE_HOME": state])
        defer {
            events.signal(SIGTERM)
            _ = events.wait(timeout: 10)
        }
        usleep(500_000)
        try FileManager.default.createDirectory(atPath: later, withIntermediateDirectories: true)
        try LockFiles.replace(path: "\(later)/k.lock", bytes: LockFileContent(holder: "h", expiration: nil).encoded())
        XCTAssertTrue(
            events.waitForOutput(containing: "\"acquired\"", timeout: 10), events.standardOutput + events.standardError)
        XCTAssertTrue(events.standardOutput.contains("\"directory_missing\""))
        XCTAssertTrue(events.standardOutput.contains("\"directory_restored\""))
    }

    func testReleaseTakesTheLockFileNameAsLsShowsIt() throws {
        try write("task.lock", LockFileContent(holder: "worker-1", expiration: nil))
        try write("a.b.lock", LockFileContent(holder: "worker-2", expiration: Date().addingTimeInterval(-10)))
        let refused = try locktop(["release", "--dir", directory, "task.lock"])
        XCTAssertEqual(refused.status, 3, refused.standardError)
        let own = try locktop(["release", "--dir", directory, "task.lock", "--holder", "worker-1"])
        XCTAssertEqual(own.status, 0, own.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(directory)/task.lock"))
        let dotted = try locktop(["release", "--dir", directory, "a.b.lock"])
        XCTAssertEqual(dotted.status, 0, "a.b.lock is the lock of every a.b.X: \(dotted.standardError)")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), [])
    }

    func testBreakTouchesOnlyExpiredAndStaleLocks() throws {
        try write("live.lock", LockFileContent(holder: "elsewhere:1:2:T", expiration: Date().addingTimeInterval(600)))
        try write("old.lock", LockFileContent(holder: "x", expiration: Date().addingTimeInterval(-10)))
        try write(
            "dead.lock",
            LockFileContent(holder: "\(ProcessIdentity.currentHostName()):999999:1:MainThread", expiration: nil))
        FileManager.default.createFile(atPath: "\(directory)/writing.lock", contents: Data())
        let dry = try locktop(["break", "--dir", directory, "--dry-run", "--json"])
        XCTAssertEqual(dry.status, 0, dry.standardError)
        XCTAssertEqual(
            try (json(dry.standardOutput)["broken"] as? [[String: Any]])?.compactMap { $0["key"] as? String },
            ["dead", "old"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory).count, 4)
        let expiredOnly = try locktop(["break", "--dir", directory, "--expired", "--json"])
        XCTAssertEqual(
            try (json(expiredOnly.standardOutput)["broken"] as? [[String: Any]])?.compactMap { $0["key"] as? String },
            ["old"])
        let rest = try locktop(["break", "--dir", directory])
        XCTAssertTrue(rest.standardOutput.hasPrefix("broke dead"), rest.standardOutput)
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: directory).sorted(), ["live.lock", "writing.lock"])
    }

    func testEventsStreamsJsonLinesAsTheyHappen() throws {
        let child = try TestSupport.start(TestSupport.executable("locktop"), ["events", "--dir", directory, "--json"])
        defer {
            child.signal(SIGTERM)
            _ = child.wait(timeout: 10)
        }
        usleep(300_000)
        try write("k.lock", LockFileContent(holder: "alpha", expiration: nil))
        XCTAssertTrue(child.waitForOutput(containing: "\"acquired\"", timeout: 10), child.standardOutput)
        try FileManager.default.removeItem(atPath: "\(directory)/k.lock")
        XCTAssertTrue(child.waitForOutput(containing: "\"released\"", timeout: 10), child.standardOutput)
        let lines = child.standardOutput.split(separator: "\n")
        let first = try json(String(lines[0]))
        XCTAssertEqual(first["type"] as? String, "acquired")
        XCTAssertEqual(first["key"] as? String, "k")
        XCTAssertEqual(first["holder"] as? String, "alpha")
        XCTAssertNotNil(first["time"] as? String)
    }

    func testBadInputGetsOneClearLineAndTouchesNothing() throws {
        let file = "\(state)/plain-file"
        FileManager.default.createFile(atPath: file, contents: Data())
        let cases: [([String], String)] = [
            (["list", "--dir", "\(state)/missing"], "does not exist"),
            (["list", "--dir", file], "is not a directory"),
            (["release", "--dir", directory, "../escape"], "invalid key"),
            (["release", "--dir", directory, "a\u{1}/b"], "invalid key"),
            (["lock", "--dir", directory, "..", "--", "true"], "invalid key"),
            (["list", "--dir", directory, "--summaries"], "--summaries goes with --json"),
            (["list", "--dir", directory, "--stale-after", "soon"], "--stale-after takes a duration"),
            (["lock", "--dir", directory, "k"], "give the command to run"),
        ]
        for (arguments, message) in cases {
            let outcome = try locktop(arguments)
            XCTAssertNotEqual(outcome.status, 0, "\(arguments)")
            XCTAssertTrue(outcome.standardError.contains(message), "\(arguments): \(outcome.standardError)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), [])
    }

    func testHugeAndSymlinkedLockFilesAreListedNotFollowed() throws {
        FileManager.default.createFile(
            atPath: "\(directory)/big.lock", contents: Data(count: 5 * 1024 * 1024),
            attributes: [.modificationDate: Date().addingTimeInterval(-30)])
        let target = "\(state)/target"
        try Data(#"{"holder": "x", "expiration": null}"#.utf8).write(to: URL(fileURLWithPath: target))
        try FileManager.default.createSymbolicLink(atPath: "\(directory)/link.lock", withDestinationPath: target)
        let outcome = try locktop(["list", "--dir", directory, "--json"])
        XCTAssertEqual(outcome.status, 0, outcome.standardError)
        let locks = try XCTUnwrap(json(outcome.standardOutput)["locks"] as? [[String: Any]])
        XCTAssertEqual(locks.compactMap { $0["state"] as? String }, ["unreadable", "unreadable"])
        XCTAssertEqual(locks.last?["symlink"] as? Bool, true)
        XCTAssertEqual(try locktop(["release", "--dir", directory, "link", "--force"]).status, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: target), "the link's target is never touched")
    }

    func testHelpExplainsEachSubcommand() throws {
        for command in ["list", "lock", "release", "break", "events"] {
            let outcome = try locktop([command, "--help"])
            XCTAssertEqual(outcome.status, 0)
            XCTAssertTrue(outcome.standardOutput.contains("--dir"), command)
            XCTAssertTrue(outcome.standardOutput.contains("--locks-dir"), command)
        }
        XCTAssertTrue(try locktop(["lock", "--help"]).standardOutput.contains("75"))
    }

    func testAuditShowsBreaksNewestLastAndFilters() throws {
        try write("old.lock", LockFileContent(holder: "gone-worker", expiration: Date().addingTimeInterval(-60)))
        try write("task.lock", LockFileContent(holder: "stuck-worker", expiration: Date().addingTimeInterval(-5)))
        let log = AuditLog(path: "\(state)/locktop/audit.log")
        try log.append(
            AuditLog.Entry(
                time: Date().addingTimeInterval(-3 * 86400), brokenBy: "someone@host:1", key: "ancient",
                lockFile: "/x/ancient.lock", oldHolder: nil, oldExpiration: nil, reason: "stale: long ago"))
        XCTAssertEqual(try locktop(["break", "--dir", directory]).status, 0)
        let table = try locktop(["audit"])
        XCTAssertEqual(table.status, 0, table.standardError)
        let lines = table.standardOutput.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[0].hasPrefix("TIME") && lines[0].contains("BROKEN BY"), table.standardOutput)
        XCTAssertTrue(lines[1].contains("ancient"), "oldest first, newest last: \(table.standardOutput)")
        XCTAssertTrue(
            lines.contains { $0.contains("old ") && $0.contains("gone-worker") && $0.contains("expired: expired") })
        XCTAssertTrue(lines.last?.hasPrefix("3 breaks in \(state)/locktop/audit.log") == true, table.standardOutput)
        let recent = try json(try locktop(["audit", "--json", "--since", "1h"]).standardOutput)
        let entries = try XCTUnwrap(recent["entries"] as? [[String: Any]])
        XCTAssertEqual(entries.compactMap { $0["key"] as? String }.sorted(), ["old", "task"])
        XCTAssertTrue(entries.allSatisfy { ($0["aside"] as? String)?.hasSuffix(".break") == true }, "\(entries)")
        let byKey = try locktop(["audit", "--key", "task.b"])
        XCTAssertTrue(
            byKey.standardOutput.contains("stuck-worker") && !byKey.standardOutput.contains("gone-worker"),
            byKey.standardOutput)
        XCTAssertTrue(try locktop(["audit", "--key", "nothing"]).standardOutput.hasPrefix("no breaks of \"nothing\""))
        XCTAssertEqual(try locktop(["audit", "--since", "soon"]).status, 64)
    }
}
