import Foundation
import LocktopTestSupport
import RecordStore
import XCTest

/// The real binary in a real terminal under tmux.
final class DashboardTmuxTests: XCTestCase {
    var directory = ""
    var state = ""

    override func setUp() {
        directory = TestSupport.temporaryDirectory(for: self)
        state = TestSupport.temporaryDirectory(for: self)
    }

    func startDashboard(_ extra: [String] = [], width: Int = 120, height: Int = 35, lingering: Bool = false) throws
        -> TmuxSession
    {
        let session = try TmuxSession(
            command: [TestSupport.executable("locktop"), "--dir", directory] + extra,
            width: width, height: height, environment: ["XDG_STATE_HOME": state], lingering: lingering)
        XCTAssertTrue(session.waitForScreen { $0.contains("locktop") && $0.contains("records") }, session.screen)
        return session
    }

    func write(_ name: String, _ content: LockFileContent) throws {
        try LockFiles.replace(path: "\(directory)/\(name)", bytes: content.encoded())
    }

    func row(_ screen: String, containing key: String) -> String? {
        screen.split(separator: "\n").map(String.init).first { $0.hasPrefix(" \(key) ") }
    }

    /// The demo's directory, as the dashboard's header names it.
    func demoDirectory(shownOn screen: String) throws -> String {
        try XCTUnwrap(screen.split(separator: " ").first { $0.contains("locktop-demo-") })
            .trimmingCharacters(in: .whitespaces)
    }

    func testALockMadeByAnotherProcessAppears() throws {
        let session = try startDashboard()
        let holder = try TestSupport.start(
            TestSupport.executable("locktop"), ["lock", "--dir", directory, "appearing-key", "--", "/bin/sleep", "30"])
        defer {
            holder.signal(SIGTERM)
            _ = holder.wait(timeout: 10)
        }
        XCTAssertTrue(
            session.waitForScreen { self.row($0, containing: "appearing-key")?.contains("held") == true },
            session.screen)
        XCTAssertTrue(session.screen.contains("acquired  appearing-key"), "the event log shows it")
    }

    func testTheDashboardShowsRedisLocksLiveAndBreaksAStaleOneByItsToken() throws {
        let server = try RedisServer(for: self, arguments: ["--notify-keyspace-events", "K$gx"])
        func redis(_ arguments: String...) throws -> String {
            try TestSupport.run("/usr/bin/redis-cli", ["-p", String(server.port)] + arguments).standardOutput
        }
        // A wait_for_lock probe (a uuid1 token from 2020) left behind, and a transaction's uuid4.
        _ = try redis("SET", "lock:probe", "0e4f5d404a4b11ea80000242ac120002")
        _ = try redis("SET", "lock:txn", "8f14e45f-ceea-467f-a0e6-8d5e1b7f2a11")
        let session = try TmuxSession(
            command: [TestSupport.executable("locktop"), "--redis", server.url()],
            width: 120, height: 35, environment: ["XDG_STATE_HOME": state])
        XCTAssertTrue(
            session.waitForScreen { self.row($0, containing: "probe")?.contains("STALE") == true }, session.screen)
        XCTAssertTrue(session.screen.contains("redis://127.0.0.1:\(server.port)/0"), session.screen)
        XCTAssertTrue(session.screen.contains("redis, keyspace notifications"), session.screen)
        XCTAssertTrue(
            row(session.screen, containing: "txn")?.contains("held?") == true,
            "a uuid4 holder is unknown: \(session.screen)")
        _ = try redis("SET", "lock:arriving", "worker-7")
        XCTAssertTrue(
            session.waitForScreen { self.row($0, containing: "arriving") != nil && $0.contains("acquired  arriving") },
            session.screen)
        session.send("/")
        session.type("probe")
        session.send("Enter")
        session.send("r")
        XCTAssertTrue(session.waitForScreen { $0.contains("Break STALE lock probe?") }, session.screen)
        session.send("y")
        XCTAssertTrue(
            session.waitForScreen { $0.contains("broken    probe") }, "the watch reports the break: \(session.screen)")
        XCTAssertEqual(try redis("EXISTS", "lock:probe").trimmingCharacters(in: .whitespacesAndNewlines), "0")
        XCTAssertEqual(
            try redis("EXISTS", "lock:txn").trimmingCharacters(in: .whitespacesAndNewlines), "1", "only the judged lock"
        )
    }

    func testCountdownTicks() throws {
        try write(
            "ticking.lock", LockFileContent(holder: "elsewhere:1:2:T", expiration: Date().addingTimeInterval(100)))
        let session = try startDashboard()
        XCTAssertTrue(
            session.waitForScreen { self.row($0, containing: "ticking")?.contains("1m") == true }, session.screen)
        let first = try XCTUnwrap(row(session.screen, containing: "ticking"))
        XCTAssertTrue(
            session.waitForScreen(timeout: 5) { self.row($0, containing: "ticking") != first }, "the countdown changed")
    }

    func testFreezeHoldsTheTableInvertReversesItAndRHidesRecords() throws {
        try write("alpha.lock", LockFileContent(holder: "elsewhere:1:2:T", expiration: nil))
        try write("beta.lock", LockFileContent(holder: "elsewhere:1:2:T", expiration: nil))
        FileManager.default.createFile(atPath: "\(directory)/aaa-result", contents: Data("{}".utf8))
        let session = try startDashboard()
        XCTAssertTrue(session.waitForScreen { $0.contains("beta") && $0.contains("aaa-result") }, session.screen)
        func keys(_ screen: String) -> [String] {
            screen.split(separator: "\n").compactMap { line in
                ["alpha", "beta", "aaa-result", "gamma"].first { line.hasPrefix(" \($0) ") }
            }
        }
        XCTAssertEqual(keys(session.screen), ["alpha", "beta", "aaa-result"], "records come after every lock")
        session.send("Z")
        XCTAssertTrue(session.waitForScreen { $0.contains("FROZEN") }, session.screen)
        try write("gamma.lock", LockFileContent(holder: "elsewhere:1:2:T", expiration: nil))
        XCTAssertTrue(session.waitForScreen { $0.contains("acquired  gamma") }, "events still queue: \(session.screen)")
        XCTAssertFalse(keys(session.screen).contains("gamma"), "the frozen table holds still")
        session.send("Space")
        XCTAssertTrue(session.waitForScreen { keys($0).contains("gamma") && !$0.contains("FROZEN") }, session.screen)
        session.send("s")
        XCTAssertTrue(session.waitForScreen { $0.contains("KEY▴") && $0.contains("sorted by key ▴") }, session.screen)
        session.send("I")
        XCTAssertTrue(session.waitForScreen { $0.contains("KEY▾") && $0.contains("sorted by key ▾") }, session.screen)
        XCTAssertEqual(keys(session.screen), ["gamma", "beta", "alpha", "aaa-result"])
        session.send("R")
        XCTAssertTrue(
            session.waitForScreen { !$0.contains(" aaa-result ") && $0.contains("records 1") }, session.screen)
    }

    func testCCopiesTheKeyThroughOSC52IntoTmuxsBuffer() throws {
        try write("copy-me.lock", LockFileContent(holder: "elsewhere:1:2:T", expiration: nil))
        let session = try startDashboard()
        session.run(["set-option", "-g", "set-clipboard", "on"])
        XCTAssertTrue(session.waitForScreen { $0.contains("copy-me") }, session.screen)
        session.send("c")
        XCTAssertTrue(session.waitForScreen { $0.contains("copied copy-me to the clipboard") }, session.screen)
        XCTAssertTrue(
            TestSupport.eventually(timeout: 5) { session.run(["show-buffer"]).output == "copy-me" },
            session.run(["show-buffer"]).output)
        session.send("C")
        XCTAssertTrue(
            TestSupport.eventually(timeout: 5) {
                session.run(["show-buffer"]).output == "\(self.directory)/copy-me.lock"
            },
            session.run(["show-buffer"]).output)
    }

    func testAMouseClickSelectsTheRowUnderIt() throws {
        try write(
            "first-lock.lock", LockFileContent(holder: "elsewhere:1:2:T", expiration: Date().addingTimeInterval(600)))
        try write(
            "second-lock.lock", LockFileContent(holder: "elsewhere:1:2:T", expiration: Date().addingTimeInterval(900)))
        let session = try startDashboard()
        XCTAssertTrue(session.waitForScreen { self.row($0, containing: "second-lock") != nil }, session.screen)
        let line = try XCTUnwrap(
            session.screen.split(separator: "\n", omittingEmptySubsequences: false).firstIndex {
                $0.hasPrefix(" second-lock ")
            })
        // What tmux (TERM=tmux-256color, X10 mouse reports) sends for a left click: ESC [ M, then the
        // button, the column and the row, each 32 plus its value (1-based); then the release.
        let row = Character(Unicode.Scalar(UInt8(32 + line + 1)))
        session.run(["send-keys", "-t", "0", "-l", "\u{1B}[M %\(row)\u{1B}[M#%\(row)"])
        session.send("Enter")
        XCTAssertTrue(session.waitForScreen { $0.contains("detail: second-lock") }, session.screen)
    }

    func testFilterThenReleaseAndConfirmRemovesAnExpiredLock() throws {
        try write("other-held.lock", LockFileContent(holder: "elsewhere:1:2:T", expiration: nil))
        try write(
            "zz-old-expired.lock", LockFileContent(holder: "gone-worker", expiration: Date().addingTimeInterval(-30)))
        let session = try startDashboard()
        XCTAssertTrue(session.waitForScreen { $0.contains("zz-old-expired") })
        session.send("/")
        session.type("old-exp")
        session.send("Enter")
        XCTAssertTrue(
            session.waitForScreen { !$0.contains("other-held") && $0.contains("zz-old-expired") }, session.screen)
        session.send("r")
        XCTAssertTrue(session.waitForScreen { $0.contains("Break EXPIRED lock zz-old-expired?") }, session.screen)
        session.send("y")
        XCTAssertTrue(
            TestSupport.eventually { !FileManager.default.fileExists(atPath: "\(self.directory)/zz-old-expired.lock") })
        XCTAssertTrue(session.waitForScreen { $0.contains("broke zz-old-expired") }, session.screen)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(directory)/other-held.lock"))
        let audit = try String(contentsOfFile: "\(state)/locktop/audit.log", encoding: .utf8)
        XCTAssertTrue(audit.contains("\"old_holder\": \"gone-worker\""), audit)
    }

    func testALiveLockIsForcedOnlyByItsWholeKeyNeverByFOrN() throws {
        try write("Fleet-sync.lock", LockFileContent(holder: "elsewhere:1:2:T", expiration: nil))
        let session = try startDashboard()
        XCTAssertTrue(session.waitForScreen { $0.contains("Fleet-sync") })
        session.send("r")
        XCTAssertTrue(
            session.waitForScreen { $0.contains("Force-break held? lock Fleet-sync?") && $0.contains("Ctrl-F") },
            session.screen)
        session.type("F")
        session.type("n")
        XCTAssertTrue(session.waitForScreen { $0.contains("> Fn█") }, "F and n are typed as text: \(session.screen)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(directory)/Fleet-sync.lock"))
        session.send("Escape")
        XCTAssertTrue(session.waitForScreen { $0.contains("kept Fleet-sync") }, session.screen)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(directory)/Fleet-sync.lock"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(state)/locktop/audit.log"))
        session.send("r")
        session.type("Fleet-sync")
        session.send("Enter")
        XCTAssertTrue(
            TestSupport.eventually { !FileManager.default.fileExists(atPath: "\(self.directory)/Fleet-sync.lock") })
        XCTAssertTrue(
            session.waitForScreen { screen in
                screen.split(separator: "\n").contains {
                    $0.contains("broken    Fleet-sync") && $0.contains("(forced: held: holder on elsewhere")
                }
            }, "the watch reports the break, with its reason: \(session.screen)")
        let audit = try String(contentsOfFile: "\(state)/locktop/audit.log", encoding: .utf8)
        XCTAssertTrue(
            audit.contains("\"reason\": \"forced: held: holder on elsewhere cannot be checked from this host\""), audit)
    }

    func testAnOpenDialogJudgesAgainEverySecondAndRefusesALockThatChanged() throws {
        try write("moving.lock", LockFileContent(holder: "old-worker", expiration: Date().addingTimeInterval(-3)))
        let session = try startDashboard()
        XCTAssertTrue(session.waitForScreen { $0.contains("moving") })
        session.send("r")
        XCTAssertTrue(session.waitForScreen { $0.contains("Break EXPIRED lock moving?") }, session.screen)
        let first = session.screen.split(separator: "\n").first { $0.contains("The lock is EXPIRED: expired") }.map(
            String.init)
        XCTAssertTrue(
            session.waitForScreen(timeout: 4) { screen in
                screen.split(separator: "\n").contains {
                    $0.contains("The lock is EXPIRED: expired") && String($0) != first
                }
            }, "the reason is judged again while the dialog is open: \(session.screen)")
        try write("moving.lock", LockFileContent(holder: "new-worker", expiration: nil))
        XCTAssertTrue(
            session.waitForScreen {
                $0.contains("CHANGED: the lock was rewritten") && $0.contains("Holder: new-worker")
            }, session.screen)
        session.send("y")
        XCTAssertTrue(
            session.waitForScreen { $0.contains("not broken: moving was rewritten while the dialog was open") },
            session.screen)
        XCTAssertEqual(
            try LockFiles.observe("moving.lock", in: DirectoryHandle.open(directory), now: Date(), gracePeriod: 2)
                .bytes,
            LockFileContent(holder: "new-worker", expiration: nil).encoded())
    }

    func testResizingDoesNotCrashAndTooSmallIsSaid() throws {
        try write("resized.lock", LockFileContent(holder: "h", expiration: nil))
        let session = try startDashboard()
        session.resize(width: 60, height: 15)
        XCTAssertTrue(session.waitForScreen { $0.contains("resized") && !$0.contains("RECORDS") }, session.screen)
        session.resize(width: 30, height: 8)
        XCTAssertTrue(session.waitForScreen { $0.contains("Terminal too small: 30x8") }, session.screen)
        session.resize(width: 120, height: 35)
        XCTAssertTrue(session.waitForScreen { $0.contains("RECORDS") && $0.contains("resized") }, session.screen)
        XCTAssertNil(session.exitStatus, "still running")
    }

    func testQuitExitsZeroAndRestoresTheTerminal() throws {
        let session = try startDashboard(lingering: true)
        XCTAssertNotEqual(
            session.terminalState, .restored, "the dashboard holds the terminal: alternate screen, raw, mouse")
        session.send("q")
        XCTAssertEqual(session.waitForExit(), 0)
        XCTAssertEqual(session.terminalState, .restored)
    }

    func testSigtermRestoresTheTerminalAndExits() throws {
        let session = try startDashboard(lingering: true)
        kill(try XCTUnwrap(session.commandProcessID), SIGTERM)
        XCTAssertEqual(session.waitForExit(), 128 + SIGTERM)
        XCTAssertEqual(session.terminalState, .restored)
    }

    func testLocksWrittenByPrefect391Appear() throws {
        let python = try TestSupport.prefectPython("3.9.1")
        let session = try startDashboard()
        let holder = UUID().uuidString.lowercased()
        let outcome = try TestSupport.run(
            python,
            [TestSupport.prefectScript("prefect_lock.py"), "acquire", directory, "prefect.task", holder, "600", "5"],
            environment: ["PREFECT_HOME": state])
        XCTAssertEqual(outcome.status, 0, outcome.standardError)
        if getuid() == 0 {
            // fanotify saw the Prefect process write the lock; it has exited holding it, so the lock is stale.
            XCTAssertTrue(
                session.waitForScreen(timeout: 5) { screen in
                    self.row(screen, containing: "prefect").map {
                        $0.contains("STALE") && $0.contains("prefect_lock.py")
                    }
                        == true
                }, session.screen)
        } else {
            XCTAssertTrue(
                session.waitForScreen { self.row($0, containing: "prefect")?.contains("held?") == true }, session.screen
            )
            XCTAssertTrue(
                row(session.screen, containing: "prefect")?.contains(String(holder.prefix(8))) == true, session.screen)
        }
        let countdown = try XCTUnwrap(row(session.screen, containing: "prefect"))
        XCTAssertTrue(countdown.contains("10m0") || countdown.contains("9m5"), countdown)
    }

    func testAKilledPrefectTransactionHolderTurnsStaleWithItsPidInTheDashboard() throws {
        guard getuid() == 0 else {
            if TestSupport.isCI { XCTFail("CI runs as root, which fanotify needs") }
            throw XCTSkip("fanotify needs root")
        }
        let python = try TestSupport.prefectPython("3.9.1")
        let session = try startDashboard()
        let holder = try TestSupport.start(
            python, [TestSupport.prefectScript("prefect_lock.py"), "transaction", directory, "crash-me"],
            environment: ["PREFECT_HOME": state, "DO_NOT_TRACK": "1"], input: true)
        defer {
            holder.signal(SIGKILL)
            _ = holder.wait(timeout: 10)
        }
        XCTAssertTrue(holder.waitForOutput(containing: "acquired", timeout: 60), holder.standardOutput)
        let pid = holder.process.processIdentifier
        XCTAssertTrue(
            session.waitForScreen { screen in
                self.row(screen, containing: "crash-me").map {
                    $0.contains(" held ") && $0.contains("\(pid) prefect_lock.py")
                }
                    == true
            }, "the live holder's pid and command: \(session.screen)")
        holder.signal(SIGKILL)
        let killed = Date()
        XCTAssertTrue(
            session.waitForScreen(timeout: 5) { self.row($0, containing: "crash-me")?.contains("STALE") == true },
            session.screen)
        XCTAssertLessThan(Date().timeIntervalSince(killed), 3)
        session.send("Enter")
        XCTAssertTrue(
            session.waitForScreen { $0.contains("holder pid \(pid) (prefect_lock.py transaction ") },
            session.screen)
    }

    func testNotATerminalPointsToList() throws {
        let outcome = try TestSupport.run(TestSupport.executable("locktop"), ["--dir", directory])
        XCTAssertEqual(outcome.status, 1)
        XCTAssertTrue(outcome.standardError.contains("locktop list"), outcome.standardError)
    }

    func testDemoShowsEveryStateAndCleansUp() throws {
        let session = try TmuxSession(
            command: [TestSupport.executable("locktop"), "demo"], environment: ["XDG_STATE_HOME": state])
        XCTAssertTrue(
            session.waitForScreen(timeout: 20) { screen in
                ["held", "EXPIRED", "STALE", "SUSPECT", "UNREADABLE"].allSatisfy { screen.contains($0) }
            }, session.screen)
        let demoDirectory = try self.demoDirectory(shownOn: session.screen)
        XCTAssertTrue(FileManager.default.fileExists(atPath: demoDirectory))
        let demoLog = "\(demoDirectory)/.locktop-state/audit.log"
        XCTAssertTrue(session.screen.contains("demo: breaks are logged to \(demoLog)"), session.screen)
        XCTAssertTrue(session.screen.contains("held?"), "a fresh UUID lock nobody can judge: \(session.screen)")
        // Workers show a readable name, and those that die holding a lock are no zombies.
        let processes = try XCTUnwrap(TestSupport.run("/bin/ps", ["-eo", "pid=,ppid=,stat=,args="]).standardOutput)
        let fields = processes.split(separator: "\n").map {
            $0.split(separator: " ", maxSplits: 3).map { $0.trimmingCharacters(in: .whitespaces) }
        }
        let demo = try XCTUnwrap(
            fields.first { $0.count == 4 && $0[3] == "\(TestSupport.executable("locktop")) demo" }, processes)
        let demoPID = demo[0]
        sleep(4)
        let children = try TestSupport.run("/bin/ps", ["--ppid", demoPID, "-o", "stat=,args="]).standardOutput
        XCTAssertFalse(
            children.split(separator: "\n").contains { $0.hasPrefix("Z") }, "no <defunct> workers: \(children)")
        // A worker that died holding a lock was replaced by a worker of the same name, whose parent
        // is not the demo: every worker of the demo's directory counts.
        let workers = try TestSupport.run("/bin/ps", ["-eo", "stat=,args="]).standardOutput.split(separator: "\n")
            .filter { $0.contains("--dir \(demoDirectory) ") }
        XCTAssertTrue(
            workers.contains { $0.contains("locktop demo-worker orders --dir") }, workers.joined(separator: "\n"))
        XCTAssertFalse(workers.contains { $0.hasPrefix("Z") }, "no <defunct> workers: \(workers)")
        session.send("X")
        XCTAssertTrue(session.waitForScreen { $0.contains("Break expired and stale locks") }, session.screen)
        session.send("y")
        XCTAssertTrue(
            TestSupport.eventually { FileManager.default.fileExists(atPath: demoLog) },
            "the demo logs its breaks in its own directory")
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: "\(state)/locktop/audit.log"),
            "and never in the operator's audit log")
        session.send("q")
        XCTAssertEqual(session.waitForExit(), 0, session.screen)
        XCTAssertTrue(
            TestSupport.eventually { !FileManager.default.fileExists(atPath: demoDirectory) },
            "the demo directory is removed")
    }

    func testDemoWithOtherHostsShowsTheirHoldersAndTheirOrphansStale() throws {
        let session = try TmuxSession(
            command: [TestSupport.executable("locktop"), "demo", "--hosts", "2"], width: 200,
            environment: ["XDG_STATE_HOME": state])
        let orphansAreStale = { (screen: String) in
            ["demo-host-1", "demo-host-2"].allSatisfy {
                self.row(screen, containing: "orphan-\($0)")?.contains("STALE") == true
            }
        }
        let started = Date()
        XCTAssertTrue(
            session.waitForScreen(timeout: 20, orphansAreStale), session.screen)
        print("demo --hosts: both orphans stale \(Date().timeIntervalSince(started))s after the demo started")
        XCTAssertTrue(session.screen.contains(" HOST "), "a HOST column once holders span hosts: \(session.screen)")
        // Nobody touches a dead orphan's heartbeat. A host's workers are each pid 1 of their own
        // pid namespace, and two started in one clock tick once shared a heartbeat name: the live
        // one's beat made the orphan's lock alive again (a CI failure).
        let demoDirectory = try self.demoDirectory(shownOn: session.screen)
        let heartbeats = try ["demo-host-1", "demo-host-2"].map { host in
            let lock = try Data(contentsOf: URL(fileURLWithPath: "\(demoDirectory)/orphan-\(host).lock"))
            return try XCTUnwrap(LockFileContent(parsing: Array(lock))?.heartbeat, "the orphan names its heartbeat")
        }
        let modified = { (name: String) in
            try? FileManager.default.attributesOfItem(atPath: "\(demoDirectory)/\(name)")[.modificationDate] as? Date
        }
        let before = heartbeats.map(modified)
        sleep(4)
        XCTAssertEqual(heartbeats.map(modified), before, "the orphans' heartbeats \(heartbeats) were touched")
        XCTAssertTrue(orphansAreStale(session.screen), "the orphans stay stale: \(session.screen)")
        if getuid() == 0 {
            // As root, each other host's workers live in namespaces of their own, out of this /proc's sight.
            let ours = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/uts")
            let workers = try FileManager.default.contentsOfDirectory(atPath: "/proc").filter { entry in
                let command = (try? String(contentsOfFile: "/proc/\(entry)/cmdline", encoding: .utf8)) ?? ""
                return !command.hasPrefix("unshare") && command.contains("\u{0}demo-worker\u{0}demo-host-1\u{0}")
            }
            XCTAssertFalse(workers.isEmpty, "demo-host-1's workers run")
            for worker in workers {
                XCTAssertNotEqual(
                    try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(worker)/ns/uts"), ours,
                    "worker \(worker) shares this host's UTS namespace")
            }
        }
        session.send("q")
        XCTAssertEqual(session.waitForExit(), 0, session.screen)
    }

    /// The pids of the processes whose command line holds every one of `words`, as NUL-separated arguments.
    func processes(running words: [String]) -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
            guard let pid = Int32(entry) else { return nil }
            let command = (try? String(contentsOfFile: "/proc/\(entry)/cmdline", encoding: .utf8)) ?? ""
            let arguments = command.split(separator: "\u{0}").map(String.init)
            return words.allSatisfy(arguments.contains) ? pid : nil
        }
    }

    func testADemoKilledWithSIGKILLTakesItsOtherHostsWorkersWithIt() throws {
        let session = try TmuxSession(
            command: [TestSupport.executable("locktop"), "demo", "--hosts", "2"], width: 200,
            environment: ["XDG_STATE_HOME": state])
        XCTAssertTrue(
            session.waitForScreen(timeout: 20) { self.row($0, containing: "orphan-demo-host-2") != nil }, session.screen
        )
        let workers = processes(running: ["demo-worker"])
        XCTAssertFalse(workers.isEmpty, "the other hosts' workers run")
        let demo = try XCTUnwrap(
            processes(running: [TestSupport.executable("locktop"), "demo", "--hosts", "2"]).first { pid in
                let command = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
                return command.hasPrefix(TestSupport.executable("locktop") + "\u{0}")
            }, "the demo runs")
        kill(demo, SIGKILL)
        // Nothing can clean up after SIGKILL but the lifeline: each worker sees its pipe close and ends.
        XCTAssertTrue(
            TestSupport.eventually(timeout: 10) { self.processes(running: ["demo-worker"]).isEmpty },
            "workers outlived their demo: \(self.processes(running: ["demo-worker"]))")
        XCTAssertEqual(session.waitForExit(), 137, session.screen)
    }

    func testRedisDemoRunsAPrivateServerShowsItsTroubleAndStopsIt() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-server") else {
            if TestSupport.isCI { XCTFail("setup.sh installs redis-server") }
            throw XCTSkip("no redis-server")
        }
        let session = try TmuxSession(
            command: [TestSupport.executable("locktop"), "demo", "--redis"], width: 160,
            environment: ["XDG_STATE_HOME": state])
        XCTAssertTrue(
            session.waitForScreen(timeout: 20) { screen in
                screen.contains("redis, keyspace notifications")
                    && self.row(screen, containing: "nightly-backup")?.contains("STALE") == true
                    && self.row(screen, containing: "report-daily")?.contains("STALE") == true
            }, session.screen)
        XCTAssertTrue(session.screen.contains("held?"), "a uuid4 holder nobody can judge: \(session.screen)")
        let url = try XCTUnwrap(session.screen.split(separator: " ").first { $0.hasPrefix("redis://127.0.0.1:") })
            .trimmingCharacters(in: .punctuationCharacters)
        let port = try XCTUnwrap(url.split(separator: ":").last?.split(separator: "/").first)
        XCTAssertEqual(
            try TestSupport.run("/usr/bin/redis-cli", ["-p", String(port), "PING"]).standardOutput, "PONG\n")
        session.send("q")
        XCTAssertEqual(session.waitForExit(), 0, session.screen)
        XCTAssertTrue(
            TestSupport.eventually(timeout: 5) {
                (try? TestSupport.run("/usr/bin/redis-cli", ["-p", String(port), "PING"]).standardOutput) != "PONG\n"
            }, "the demo's redis-server stops with it")
    }
}
