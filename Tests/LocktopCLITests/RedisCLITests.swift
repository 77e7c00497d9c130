import Foundation
import LocktopTestSupport
import RecordStore
import XCTest

/// `locktop list`, `release` and `break` with `--redis`, against a private redis-server, and
/// against real prefect-redis processes.
final class RedisCLITests: XCTestCase {
    var state = ""

    override func setUp() {
        state = TestSupport.temporaryDirectory(for: self)
    }

    @discardableResult
    func locktop(_ arguments: [String], environment: [String: String] = [:]) throws -> TestSupport.Outcome {
        try TestSupport.run(
            TestSupport.executable("locktop"), arguments,
            environment: ["XDG_STATE_HOME": state].merging(environment) { $1 })
    }

    func redis(_ server: RedisServer, _ arguments: [String], password: String? = nil) throws {
        let outcome = try TestSupport.run(
            "/usr/bin/redis-cli",
            ["-p", String(server.port)] + (password.map { ["-a", $0, "--no-auth-warning"] } ?? []) + arguments)
        XCTAssertEqual(outcome.status, 0, outcome.standardError)
    }

    func testAPasswordNeverShowsInPsAndMayComeFromAFileOrTheEnvironment() throws {
        let server = try RedisServer(
            for: self, arguments: ["--requirepass", "s3cret-pw", "--notify-keyspace-events", "K$gx"])
        try redis(server, ["SET", "lock:k", "holder-token"], password: "s3cret-pw")
        // In the URL: it works, and is gone from the process's command line.
        let events = try TestSupport.start(
            TestSupport.executable("locktop"),
            ["events", "--redis", server.url(password: "s3cret-pw"), "--json", "--poll", "60"],
            environment: ["XDG_STATE_HOME": state])
        defer {
            events.signal(SIGTERM)
            _ = events.wait(timeout: 10)
        }
        XCTAssertTrue(
            TestSupport.eventually(timeout: 5) { events.standardError.contains("shows in ps") }, events.standardError)
        let commandLine = try String(
            contentsOfFile: "/proc/\(events.process.processIdentifier)/cmdline", encoding: .utf8)
        XCTAssertFalse(commandLine.contains("s3cret-pw"), commandLine)
        XCTAssertTrue(commandLine.contains("redis://:xxxxxxxxx@127.0.0.1"), commandLine)
        usleep(700_000) // connected, subscribed and read once, as the other events tests wait
        try redis(server, ["SET", "lock:later", "t2"], password: "s3cret-pw")
        XCTAssertTrue(
            events.waitForOutput(containing: #""key": "later""#, timeout: 10),
            "it still authenticates with the password it was given: \(events.standardOutput) \(events.standardError)")
        // From a file, or the environment: nothing to hide.
        let file = "\(state)/password"
        try "s3cret-pw\n".write(toFile: file, atomically: true, encoding: .utf8)
        let fromFile = try locktop(["list", "--redis", server.url(), "--redis-password-file", file, "-n", "-o", "key"])
        XCTAssertEqual(fromFile.status, 0, fromFile.standardError)
        XCTAssertTrue(fromFile.standardOutput.hasPrefix("k\n"), fromFile.standardOutput)
        XCTAssertFalse(fromFile.standardError.contains("shows in ps"))
        let fromEnvironment = try locktop(
            ["list", "--redis", server.url(), "-n", "-o", "key"], environment: ["LOCKTOP_REDIS_PASSWORD": "s3cret-pw"])
        XCTAssertEqual(fromEnvironment.status, 0, fromEnvironment.standardError)
        let wrong = try locktop(["list", "--redis", server.url()])
        XCTAssertEqual(wrong.status, 1, "no password: the server refuses")
    }

    func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    func testListJudgesRedisLocksAndReleaseAndBreakActOnlyOnTheJudgedToken() throws {
        let server = try RedisServer(for: self, arguments: ["--requirepass", "pa55word"])
        let url = server.url(password: "pa55word")
        // A pid on this host that has just exited: the holder of a crashed worker.
        let child = try TestSupport.run("/bin/sh", ["-c", "echo $$"])
        let dead = Int32(child.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 999_999
        // A uuid1 token from 2020: a wait_for_lock probe left behind.
        let probe = "0e4f5d40" + "4a4b" + "11ea" + "8000" + "0242ac120002"
        try redis(
            server, ["SET", "lock:dead-worker", "\(ProcessIdentity.currentHostName()):\(dead):140:MainThread"],
            password: "pa55word")
        try redis(server, ["SET", "lock:probe", probe], password: "pa55word")
        let txnToken = "8f14e45f-ceea-467f-a0e6-8d5e1b7f2a11"
        try redis(server, ["SET", "lock:txn", txnToken], password: "pa55word")
        try redis(server, ["SET", "lock:leased", "web-1:4242:1:MainThread", "PX", "60000"], password: "pa55word")
        try redis(server, ["SET", "result:abc", "{}"], password: "pa55word")

        let table = try locktop(["list", "--redis", url])
        XCTAssertEqual(table.status, 0, table.standardError)
        let lines = table.standardOutput.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[0].hasPrefix("KEY") && !lines[0].contains("RECORDS"), table.standardOutput)
        XCTAssertTrue(lines.contains { $0.hasPrefix("dead-worker") && $0.contains("stale") }, table.standardOutput)
        XCTAssertTrue(
            lines.contains { $0.hasPrefix("probe") && $0.contains("stale") && $0.contains("wait_for_lock probe") },
            table.standardOutput)
        XCTAssertTrue(
            lines.contains {
                $0.hasPrefix("leased") && $0.contains("held") && $0.contains("59s") || $0.contains("1m00s")
            }, table.standardOutput)
        XCTAssertTrue(
            table.standardOutput.contains("4 locks under lock:* in redis://127.0.0.1:\(server.port)/0"),
            table.standardOutput)
        XCTAssertFalse(table.standardOutput.contains("result"))

        let listed = try json(locktop(["list", "--redis", url, "--json"]).standardOutput)
        try DocumentedJSON.load().checkDocument(listed, as: "list-redis")
        XCTAssertEqual(listed["redis"] as? String, "redis://127.0.0.1:\(server.port)/0")
        let locks = try XCTUnwrap(listed["locks"] as? [[String: Any]])
        XCTAssertEqual(locks.map { $0["key"] as? String }, ["dead-worker", "leased", "probe", "txn"])
        XCTAssertEqual(locks[3]["holder"] as? String, "8f14e45f-ceea-467f-a0e6-8d5e1b7f2a11")
        XCTAssertEqual(locks[3]["state"] as? String, "held")
        XCTAssertEqual(locks[3]["liveness"] as? String, "unknown")
        XCTAssertTrue(locks[3]["ttl_seconds"] is NSNull, "no TTL")
        XCTAssertEqual(locks[3]["redis_key"] as? String, "lock:txn")
        XCTAssertEqual((locks[1]["ttl_seconds"] as? Double).map { $0 > 55 && $0 <= 60 }, true)

        let check = try locktop(["list", "--redis", url, "--check", "-n", "-o", "key"])
        XCTAssertEqual(check.status, 1)
        // The URL's password is hidden from ps, with a warning first.
        XCTAssertTrue(
            check.standardError.hasSuffix(
                "shows in ps to every user here; it was hidden from this process's command line, but use --redis-password-file or $LOCKTOP_REDIS_PASSWORD\nlocktop: check: 2 stale of 4 locks\n"
            ), check.standardError)

        let refused = try locktop(["release", "--redis", url, "txn"])
        XCTAssertEqual(refused.status, 3, refused.standardError)
        XCTAssertTrue(refused.standardError.contains("refusing without --force"), refused.standardError)
        XCTAssertEqual(try locktop(["release", "--redis", url, "nothing"]).status, 4)
        let own = try locktop(["release", "--redis", url, "leased", "--holder", "web-1:4242:1:MainThread"])
        XCTAssertEqual(own.status, 0, own.standardError)
        XCTAssertTrue(own.standardOutput.hasPrefix("released leased"), own.standardOutput)
        let moved = try locktop(["release", "--redis", url, "txn", "--force", "--if-holder", "another-token"])
        XCTAssertEqual(moved.status, 3, moved.standardError)
        XCTAssertTrue(
            moved.standardError.contains("not by \"another-token\" as shown; not broken"), moved.standardError)
        let forced = try locktop(["release", "--redis", url, "txn", "--force", "--if-holder", txnToken])
        XCTAssertEqual(forced.status, 0, forced.standardError)
        XCTAssertTrue(forced.standardOutput.hasPrefix("broke txn"), forced.standardOutput)

        let broken = try json(locktop(["break", "--redis", url, "--stale", "--json"]).standardOutput)
        XCTAssertEqual(
            (broken["broken"] as? [[String: Any]])?.compactMap { $0["key"] as? String }.sorted(),
            ["dead-worker", "probe"])
        XCTAssertEqual(try json(locktop(["list", "--redis", url, "--json"]).standardOutput)["locks"] as? [NSArray], [])

        let audit = try String(contentsOfFile: "\(state)/locktop/audit.log", encoding: .utf8)
        XCTAssertEqual(audit.split(separator: "\n").count, 3, audit)
        XCTAssertTrue(audit.contains("redis://127.0.0.1:\(server.port)/0 lock:txn"), audit)
        XCTAssertTrue(audit.contains("\"reason\": \"forced: held"), audit)
        for text in [
            audit, table.standardOutput, refused.standardError,
            try String(contentsOfFile: "\(state)/locktop/redis-first-seen.json", encoding: .utf8),
        ] {
            XCTAssertFalse(text.contains("pa55word"), "the password is never written: \(text)")
        }

        let unreachable = try locktop(["list", "--redis", "redis://127.0.0.1:1/0"])
        XCTAssertEqual(unreachable.status, 1)
        XCTAssertTrue(
            unreachable.standardError.contains("cannot connect to Redis at redis://127.0.0.1:1/0"),
            unreachable.standardError)
        let wrong = try locktop(["list", "--redis", "http://x", "--dir", "/tmp"])
        XCTAssertEqual(wrong.status, 64)
    }

    /// The ACLs the README gives: read-only monitoring, and breaking.
    static let watcherACL =
        "on >w-pass ~lock:* %R~locktop:* &__keyspace@0__:lock:* &__keyspace@0__:locktop:* +scan +getrange +pttl +type +psubscribe +ping +hello +client|setname"
    static let breakerACL =
        watcherACL.replacingOccurrences(of: ">w-pass", with: ">b-pass") + " ~locktop:holder:* +get +eval +evalsha +del"
    /// The ACLs before the helper's companion keys: locktop still watches and breaks with them.
    static let lockKeysOnly = (
        watcher:
            "on >w-pass ~lock:* &__keyspace@0__:lock:* +scan +getrange +pttl +type +psubscribe +ping +hello +client|setname",
        breaker:
            "on >b-pass ~lock:* &__keyspace@0__:lock:* +scan +getrange +pttl +type +psubscribe +ping +hello +client|setname +get +eval +evalsha +del"
    )

    func testTheReadmesLeastPrivilegeACLsAreEnoughToWatchAndToBreak() throws {
        try checkLeastPrivilege(watcher: Self.watcherACL, breaker: Self.breakerACL, companionGoes: true)
    }

    func testACLsWithoutTheHelpersKeysStillWatchAndBreak() throws {
        try checkLeastPrivilege(
            watcher: Self.lockKeysOnly.watcher, breaker: Self.lockKeysOnly.breaker, companionGoes: false)
    }

    /// Checks that `watcher` lists and watches, and `breaker` breaks, a helper's lock; the
    /// companion goes with the break when `breaker` may touch it (`companionGoes`).
    func checkLeastPrivilege(watcher watcherACL: String, breaker breakerACL: String, companionGoes: Bool) throws {
        let server = try RedisServer(for: self, arguments: ["--notify-keyspace-events", "K$gx"])
        try redis(server, ["ACL", "SETUSER", "watcher"] + watcherACL.split(separator: " ").map(String.init))
        try redis(server, ["ACL", "SETUSER", "breaker"] + breakerACL.split(separator: " ").map(String.init))
        try redis(server, ["SET", "lock:held", "8f14e45f-ceea-467f-a0e6-8d5e1b7f2a11"])
        try redis(server, ["SET", "locktop:holder:held", #"{"holder":"8f14e45f-ceea-467f-a0e6-8d5e1b7f2a11"}"#])
        try redis(server, ["SET", "secret:other", "not for locktop"])
        let watcher = server.url(user: "watcher", password: "w-pass")
        let listed = try locktop(["list", "--redis", watcher, "-n", "-o", "key,state"])
        XCTAssertEqual(listed.status, 0, listed.standardError)
        XCTAssertTrue(listed.standardOutput.hasPrefix("held  held?\n"), listed.standardOutput)
        let refused = try locktop(["release", "--redis", watcher, "held", "--force"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.standardError.contains("NOPERM"), "the watcher may not break: \(refused.standardError)")

        let events = try TestSupport.start(
            TestSupport.executable("locktop"), ["events", "--redis", watcher, "--json", "--poll", "60"],
            environment: ["XDG_STATE_HOME": state])
        defer {
            events.signal(SIGTERM)
            _ = events.wait(timeout: 10)
        }
        XCTAssertTrue(
            TestSupport.eventually(timeout: 5) { events.standardError.contains("CONFIG is not allowed") },
            events.standardError)
        XCTAssertTrue(events.standardError.contains("subscribed to keyspace events"), events.standardError)
        usleep(300_000)
        try redis(server, ["SET", "lock:arrived", "worker-9"])
        XCTAssertTrue(
            events.waitForOutput(containing: "\"key\": \"arrived\"", timeout: 5),
            "notifications arrive, though CONFIG cannot say they are on (polling is every 60 s): \(events.standardOutput)"
        )

        let broken = try locktop([
            "release", "--redis", server.url(user: "breaker", password: "b-pass"), "held", "--force",
        ])
        XCTAssertEqual(broken.status, 0, broken.standardError)
        XCTAssertTrue(broken.standardOutput.hasPrefix("broke held"), broken.standardOutput)
        let companion = try TestSupport.run(
            "/usr/bin/redis-cli", ["-p", String(server.port), "EXISTS", "locktop:holder:held"])
        XCTAssertEqual(
            companion.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines), companionGoes ? "0" : "1")
    }

    func testListAndEventsOverTLSWithTheServersCA() throws {
        let certificates = TestSupport.temporaryDirectory(for: self)
        let port = RedisServer.freePort()
        let (arguments, authority) = try RedisServer.tlsArguments(port: port, in: certificates)
        _ = try RedisServer(for: self, arguments: arguments + ["--notify-keyspace-events", "K$gx"])
        let url = "rediss://127.0.0.1:\(port)/0"
        let events = try TestSupport.start(
            TestSupport.executable("locktop"), ["events", "--redis", url, "--tls-ca", authority, "--json"],
            environment: ["XDG_STATE_HOME": state])
        defer {
            events.signal(SIGTERM)
            _ = events.wait(timeout: 10)
        }
        usleep(500_000)
        let held = try locktop([
            "lock", "--redis", url, "--tls-ca", authority, "secure", "--", "/bin/sh", "-c", "sleep 0.3",
        ])
        XCTAssertEqual(held.status, 0, held.standardError)
        XCTAssertTrue(
            events.waitForOutput(containing: "\"released\"", timeout: 10),
            "notifications over TLS: \(events.standardOutput) \(events.standardError)")
        let listed = try locktop(["list", "--redis", url, "--tls-ca", authority])
        XCTAssertEqual(listed.status, 0, listed.standardError)
        XCTAssertTrue(listed.standardOutput.contains("0 locks under lock:* in \(url)"), listed.standardOutput)
        let untrusted = try locktop(["list", "--redis", url])
        XCTAssertEqual(untrusted.status, 1)
        XCTAssertTrue(untrusted.standardError.contains("certificate is not trusted"), untrusted.standardError)
    }

    func testEventsStreamsRedisChangesAsDocumentedJSONLines() throws {
        let server = try RedisServer(for: self, arguments: ["--notify-keyspace-events", "K$gx"])
        let events = try TestSupport.start(
            TestSupport.executable("locktop"), ["events", "--redis", server.url(), "--json"],
            environment: ["XDG_STATE_HOME": state])
        defer {
            events.signal(SIGTERM)
            _ = events.wait(timeout: 10)
        }
        usleep(500_000)
        try redis(server, ["SET", "lock:orders", "9d87db93-4b04-4bf0-90ec-0d6f20a226f9", "NX"])
        try redis(server, ["DEL", "lock:orders"])
        XCTAssertTrue(
            events.waitForOutput(containing: "\"released\"", timeout: 10), events.standardOutput + events.standardError)
        let documented = try DocumentedJSON.load()
        let lines = events.standardOutput.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.compactMap { documented.checkEvent($0) }, ["acquired", "released"])
        XCTAssertTrue(lines[0].contains("\"key\": \"orders\""), lines[0])
    }

    func testLockHoldsARedisLeaseRenewsItAndSaysWhenItIsLost() throws {
        let server = try RedisServer(for: self)
        let url = server.url()
        let ran = try locktop([
            "lock", "--redis", url, "--holder", "me", "job", "--", "/bin/sh", "-c",
            "echo \"$LOCKTOP_KEY $LOCKTOP_HOLDER $LOCKTOP_LOCK_FILE\"; redis-cli -p \(server.port) GET lock:job",
        ])
        XCTAssertEqual(ran.status, 0, ran.standardError)
        XCTAssertEqual(
            ran.standardOutput, "job me redis://127.0.0.1:\(server.port)/0 lock:job\nme\n",
            "the command runs holding the lock")
        XCTAssertEqual(
            try TestSupport.run("/usr/bin/redis-cli", ["-p", String(server.port), "EXISTS", "lock:job"]).standardOutput,
            "0\n",
            "released on exit")
        try redis(server, ["SET", "lock:busy", "someone-else"])
        let busy = try locktop(["lock", "--redis", url, "-w", "0.3", "busy", "--", "true"])
        XCTAssertEqual(busy.status, 75, busy.standardError)
        XCTAssertTrue(busy.standardError.contains("was not acquired within 0.3 s"), busy.standardError)

        // A 1.5 s lease held for 3 s: renewed, so it never expires; then broken, which the command hears of.
        let lease = try TestSupport.start(
            TestSupport.executable("locktop"),
            ["lock", "--redis", url, "--hold-timeout", "1.5", "--on-lost", "term", "lease", "--", "/bin/sleep", "30"],
            environment: ["XDG_STATE_HOME": state])
        defer {
            lease.signal(SIGKILL)
            _ = lease.wait(timeout: 10)
        }
        sleep(3)
        let held = try json(locktop(["list", "--redis", url, "--json"]).standardOutput)
        let ttl = try XCTUnwrap(
            (held["locks"] as? [[String: Any]])?.first { $0["key"] as? String == "lease" }?["ttl_seconds"] as? Double)
        XCTAssertTrue(ttl > 0 && ttl <= 1.5, "renewed, TTL \(ttl)")
        XCTAssertEqual(try locktop(["release", "--redis", url, "lease", "--force"]).status, 0)
        let ended = lease.wait(timeout: 10)
        XCTAssertEqual(ended.status, 75, ended.standardError)
        XCTAssertTrue(ended.standardError.contains("lock \"lease\" was lost"), ended.standardError)
    }

    func testLocktopLockAndPrefectRedisExcludeEachOther() throws {
        let python = try TestSupport.prefectPython("3.9.1")
        let server = try RedisServer(for: self)
        let work = TestSupport.temporaryDirectory(for: self)
        let iterations = 25
        let loop = """
            for i in $(seq \(iterations)); do
              "\(TestSupport.executable("locktop"))" lock --redis "\(server.url())" shared -- /bin/sh "\(TestSupport.prefectScript("critical_section.sh"))" "\(work)" || echo "exit $?" >> "\(work)/errors"
            done
            """
        let shells = try (0..<2).map { _ in
            try TestSupport.start("/bin/sh", ["-c", loop], environment: ["XDG_STATE_HOME": state])
        }
        let prefects = try (0..<2).map { _ in
            try TestSupport.start(
                python,
                [
                    TestSupport.prefectScript("prefect_redis_lock.py"), "contend", server.url(), "shared", work,
                    String(iterations),
                ])
        }
        for child in shells + prefects {
            let outcome = child.wait(timeout: 600)
            XCTAssertEqual(outcome.status, 0, outcome.standardError)
        }
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: "\(work)/overlaps"),
            (try? String(contentsOfFile: "\(work)/overlaps", encoding: .utf8)) ?? "")
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: "\(work)/errors"),
            (try? String(contentsOfFile: "\(work)/errors", encoding: .utf8)) ?? "")
        XCTAssertEqual(
            try String(contentsOfFile: "\(work)/counter", encoding: .utf8).trimmingCharacters(
                in: .whitespacesAndNewlines), String(4 * iterations))
    }

    func testAPrefectRedisWaiterGetsInWhenLocktopBreaksTheLockAndTheOldHolderIsTold() throws {
        let python = try TestSupport.prefectPython("3.9.1")
        let server = try RedisServer(for: self)
        let url = server.url()
        let script = TestSupport.prefectScript("prefect_redis_lock.py")
        let holder = try TestSupport.start(
            python, [script, "acquire", url, "nightly", "worker-1", "none", "none"], input: true)
        defer {
            holder.signal(SIGKILL)
            _ = holder.wait(timeout: 10)
        }
        XCTAssertTrue(
            holder.waitForOutput(containing: "acquired", timeout: 60), holder.standardOutput + holder.standardError)
        let listed = try json(locktop(["list", "--redis", url, "--json"]).standardOutput)
        let lock = try XCTUnwrap((listed["locks"] as? [[String: Any]])?.first)
        XCTAssertEqual(lock["key"] as? String, "nightly")
        XCTAssertEqual(lock["holder"] as? String, "worker-1", "the holder exactly as prefect-redis wrote it")
        XCTAssertTrue(lock["ttl_seconds"] is NSNull, "no hold_timeout, no TTL")
        let leased = try TestSupport.start(
            python, [script, "acquire", url, "leased", "worker-3", "30", "none"], input: true)
        defer {
            leased.signal(SIGKILL)
            _ = leased.wait(timeout: 10)
        }
        XCTAssertTrue(leased.waitForOutput(containing: "acquired", timeout: 60), leased.standardError)
        let withTTL = try XCTUnwrap(
            (try json(locktop(["list", "--redis", url, "--json"]).standardOutput)["locks"] as? [[String: Any]])?
                .first { $0["key"] as? String == "leased" })
        XCTAssertEqual(withTTL["holder"] as? String, "worker-3")
        let ttl = try XCTUnwrap(withTTL["ttl_seconds"] as? Double)
        XCTAssertTrue(ttl > 25 && ttl <= 30, "hold_timeout=30 is a 30 s TTL: \(ttl)")

        let waiter = try TestSupport.start(
            python, [script, "acquire", url, "nightly", "worker-2", "none", "60"], input: true)
        defer {
            waiter.signal(SIGKILL)
            _ = waiter.wait(timeout: 10)
        }
        usleep(500_000)
        XCTAssertFalse(waiter.standardOutput.contains("acquired"), "the waiter is blocked")
        let broken = try locktop(["release", "--redis", url, "nightly", "--force"])
        XCTAssertEqual(broken.status, 0, broken.standardError)
        XCTAssertTrue(
            waiter.waitForOutput(containing: "acquired", timeout: 10), "the waiter gets in: \(waiter.standardError)")
        let after = try json(locktop(["list", "--redis", url, "--json"]).standardOutput)
        XCTAssertEqual(
            (after["locks"] as? [[String: Any]])?.first { $0["key"] as? String == "nightly" }?["holder"] as? String,
            "worker-2")
        try holder.closeInput()
        XCTAssertTrue(
            holder.waitForOutput(containing: "lost: LockNotOwnedError", timeout: 30),
            holder.standardOutput + holder.standardError)
        XCTAssertEqual(
            (try json(locktop(["list", "--redis", url, "--json"]).standardOutput)["locks"] as? [[String: Any]])?
                .first { $0["key"] as? String == "nightly" }?["holder"] as? String, "worker-2",
            "the old holder's release did not remove the new holder's lock")
    }
}
