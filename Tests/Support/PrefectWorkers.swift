import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Real Prefect 3.9.1 processes on a locks directory, for the tests of judging and breaking:
/// transaction holders, waiters, and the second uid that unprivileged runs use.
public struct PrefectWorkers {
    public let python: String
    public let directory: String
    public let home: String

    /// The three temporary directories of a test with Prefect workers: the locks `directory`, the
    /// `state` directory (`XDG_STATE_HOME`) and the workers' `home`; the first two open to a second uid.
    public struct Places {
        public let directory: String
        public let state: String
        public let home: String

        /// Fresh places for `test`, removed when it ends.
        public init(for test: XCTestCase) {
            directory = TestSupport.temporaryDirectory(for: test)
            state = TestSupport.temporaryDirectory(for: test)
            home = TestSupport.temporaryDirectory(for: test)
            for path in [directory, state] { chmod(path, 0o777) }
        }
    }

    /// Workers on `places`.
    public init(_ places: Places, file: StaticString = #filePath, line: UInt = #line) throws {
        try self.init(directory: places.directory, home: places.home, file: file, line: line)
    }

    /// Workers on `directory`, with `home` as their `PREFECT_HOME`. Skips without the venv (fails under CI).
    public init(directory: String, home: String, file: StaticString = #filePath, line: UInt = #line) throws {
        python = try TestSupport.prefectPython("3.9.1", file: file, line: line)
        self.directory = directory
        self.home = home
    }

    /// A `transaction(..., isolation_level=SERIALIZABLE)` on `key` that holds until killed or its
    /// input closes; returned once it holds the lock. Its lock names no process (a uuid4 holder).
    public func transaction(_ key: String, file: StaticString = #filePath, line: UInt = #line) throws
        -> TestSupport.Child
    {
        let holder = try start(["transaction", directory, key])
        XCTAssertTrue(
            holder.waitForOutput(containing: "acquired", timeout: 60), holder.standardOutput + holder.standardError,
            file: file, line: line)
        return holder
    }

    /// A SERIALIZABLE transaction on `outer` that, once its input closes, opens one on `inner`
    /// inside it, waiting for ever (no acquire timeout); returned once it holds `outer`.
    public func nestedTransaction(
        _ outer: String, then inner: String, file: StaticString = #filePath, line: UInt = #line
    )
        throws -> TestSupport.Child
    {
        let holder = try start(["nested", directory, outer, inner])
        XCTAssertTrue(
            holder.waitForOutput(containing: "acquired \(outer)", timeout: 60),
            holder.standardOutput + holder.standardError,
            file: file, line: line)
        return holder
    }

    /// A Prefect waiter on `key`: `acquire_lock` with a uuid holder, waiting up to `timeout` seconds;
    /// it prints `acquired` when it gets in.
    public func waiter(_ key: String, timeout: TimeInterval = 60) throws -> TestSupport.Child {
        try start(["acquire", directory, key, UUID().uuidString.lowercased(), "none", String(timeout)])
    }

    private func start(_ arguments: [String]) throws -> TestSupport.Child {
        try TestSupport.start(
            python, [TestSupport.prefectScript("prefect_lock.py")] + arguments,
            environment: ["PREFECT_HOME": home, "DO_NOT_TRACK": "1"], input: true)
    }

    /// Fails the test unless it runs as root, which fanotify and the second uid need; skips elsewhere.
    public static func requireRoot(file: StaticString = #filePath, line: UInt = #line) throws {
        guard getuid() == 0 else {
            if TestSupport.isCI { XCTFail("CI runs as root, which fanotify needs", file: file, line: line) }
            throw XCTSkip("needs root")
        }
    }

    /// `setpriv` arguments that run a command as `nobody`, a second uid without fanotify.
    public static let asNobody = ["--reuid=nobody", "--regid=nogroup", "--clear-groups"]

    /// Another operator's `locktop events` on `directory`, with a state home of its own: it reads
    /// the lock files as any watcher does. Stopped when `test` ends.
    public static func otherWatcher(of directory: String, for test: XCTestCase) throws -> TestSupport.Child {
        let watcher = try TestSupport.start(
            TestSupport.executable("locktop"), ["events", "--dir", directory],
            environment: ["XDG_STATE_HOME": TestSupport.temporaryDirectory(for: test)])
        test.addTeardownBlock {
            watcher.signal(SIGTERM)
            _ = watcher.wait(timeout: 10)
        }
        return watcher
    }

    /// Kills `child` with SIGKILL and reaps it.
    public static func kill(_ child: TestSupport.Child) {
        child.signal(SIGKILL)
        _ = child.wait(timeout: 10)
    }
}
