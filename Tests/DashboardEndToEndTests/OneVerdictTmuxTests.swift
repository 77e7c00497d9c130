import Foundation
import LocktopTestSupport
import RecordStore
import XCTest

/// The dashboard under tmux acts on the verdict it shows, for real Prefect 3.9.1 transactions:
/// a stale lock goes with `y` (and `X`), a live holder is never stale, and watching locktops are no waiters.
final class OneVerdictTmuxTests: XCTestCase {
    var places: PrefectWorkers.Places!
    var directory: String { places.directory }
    var state: String { places.state }
    var home: String { places.home }

    override func setUp() {
        places = PrefectWorkers.Places(for: self)
    }

    func startDashboard(_ extra: [String] = [], as user: [String] = []) throws -> TmuxSession {
        let command =
            user.isEmpty
            ? [TestSupport.executable("locktop")] : ["/usr/bin/setpriv"] + user + [TestSupport.executable("locktop")]
        let session = try TmuxSession(
            command: command + ["--dir", directory] + extra, width: 160, height: 35,
            environment: ["XDG_STATE_HOME": user.isEmpty ? state : "\(state)/nobody"])
        XCTAssertTrue(session.waitForScreen { $0.contains("locktop") && $0.contains("locks") }, session.screen)
        return session
    }

    func row(_ screen: String, _ key: String) -> String? {
        screen.split(separator: "\n").map(String.init).first { $0.hasPrefix(" \(key) ") }
    }

    /// The text of `key`'s row under the heading `column`, up to the next heading.
    func cell(_ screen: String, _ key: String, column: String) -> String? {
        guard let heading = screen.split(separator: "\n").map(String.init).first(where: { $0.hasPrefix(" KEY ") }),
            let line = row(screen, key).map(Array.init)
        else { return nil }
        let words = Array(heading)
        guard
            let start = heading.range(of: " \(column) ").map({
                heading.distance(from: heading.startIndex, to: $0.lowerBound) + 1
            })
        else { return nil }
        var end = start + column.count
        while end < words.count, words[end] == " " { end += 1 }
        return String(line[min(start, line.count)..<min(end, line.count)]).trimmingCharacters(in: .whitespaces)
    }

    func select(_ key: String, in session: TmuxSession) {
        session.send("/")
        session.type(key)
        session.send("Enter")
        XCTAssertTrue(session.waitForScreen { self.row($0, key) != nil }, session.screen)
    }

    func testAStaleDialogBreaksWithYAndXBreaksEveryDeadHoldersLock() throws {
        try PrefectWorkers.requireRoot()
        let workers = try PrefectWorkers(places)
        let session = try startDashboard()
        let alpha = try workers.transaction("alpha")
        defer { PrefectWorkers.kill(alpha) }
        let omega = try workers.transaction("omega")
        defer { PrefectWorkers.kill(omega) }
        let pid = alpha.process.processIdentifier
        let waiter = try workers.waiter("alpha")
        defer { PrefectWorkers.kill(waiter) }
        XCTAssertTrue(
            session.waitForScreen { self.row($0, "alpha")?.contains("\(pid) prefect_lock.py") == true }, session.screen)
        PrefectWorkers.kill(alpha)
        PrefectWorkers.kill(omega)
        XCTAssertTrue(
            session.waitForScreen(timeout: 5) { screen in
                ["alpha", "omega"].allSatisfy { self.row(screen, $0)?.contains("STALE") == true }
            }, session.screen)
        select("alpha", in: session)
        session.send("r")
        XCTAssertTrue(session.waitForScreen { $0.contains("Break STALE lock alpha?") }, session.screen)
        XCTAssertTrue(
            session.screen.contains("holder pid \(pid) (prefect_lock.py transaction "), session.screen)
        session.send("y")
        XCTAssertTrue(
            TestSupport.eventually { !FileManager.default.fileExists(atPath: "\(self.directory)/alpha.lock") },
            session.screen)
        XCTAssertTrue(session.waitForScreen { $0.contains("broke alpha") }, session.screen)
        XCTAssertTrue(waiter.waitForOutput(containing: "acquired", timeout: 10), "the Prefect waiter gets in")
        let audit = try String(contentsOfFile: "\(state)/locktop/audit.log", encoding: .utf8)
        XCTAssertTrue(
            audit.contains(#""reason": "stale: holder pid \#(pid) (prefect_lock.py transaction "#), audit)

        session.send("Escape")
        session.send("X")
        XCTAssertTrue(
            session.waitForScreen { $0.contains("Break expired and stale locks") && $0.contains("omega") },
            session.screen)
        session.send("y")
        XCTAssertTrue(
            TestSupport.eventually { !FileManager.default.fileExists(atPath: "\(self.directory)/omega.lock") },
            session.screen)
        XCTAssertFalse(session.screen.contains("refusing"), session.screen)
    }

    func testALiveLongHolderIsHeldAndForcedOnlyAndAnUnprivilegedDashboardShowsASuspect() throws {
        try PrefectWorkers.requireRoot()
        let workers = try PrefectWorkers(places)
        let session = try startDashboard(["--stale-after", "2s"])
        let holder = try workers.transaction("longkey")
        defer { PrefectWorkers.kill(holder) }
        let pid = holder.process.processIdentifier
        // Another operator's `events` reads the lock too: it is no waiter.
        _ = try PrefectWorkers.otherWatcher(of: directory, for: self)
        let waiter = try workers.waiter("longkey")
        defer { PrefectWorkers.kill(waiter) }
        sleep(3)
        let screen = session.screen
        let line = try XCTUnwrap(row(screen, "longkey"), screen)
        XCTAssertTrue(line.contains(" held ") && !line.contains("STALE") && !line.contains("SUSPECT"), line)
        XCTAssertTrue(line.contains("\(pid) prefect_lock.py"), line)
        select("longkey", in: session)
        session.send("r")
        XCTAssertTrue(session.waitForScreen { $0.contains("Force-break held lock longkey?") }, session.screen)
        XCTAssertTrue(session.screen.contains("The lock is held: holder pid \(pid) is alive."), session.screen)
        session.send("y")
        session.send("Escape")
        XCTAssertTrue(
            FileManager.default.fileExists(atPath: "\(directory)/longkey.lock"), "y is text in the force dialog")
        XCTAssertTrue(
            session.waitForScreen { self.cell($0, "longkey", column: "WAIT")?.hasPrefix("1 ⧗") == true },
            "the Prefect waiter, and not the other locktop: \(session.screen)")

        let unprivileged = try startDashboard(["--stale-after", "2s"], as: PrefectWorkers.asNobody)
        XCTAssertTrue(
            unprivileged.waitForScreen(timeout: 5) { self.row($0, "longkey")?.contains("SUSPECT") == true },
            unprivileged.screen)
        unprivileged.send("Enter")
        XCTAssertTrue(unprivileged.waitForScreen { $0.contains("nothing shows its holder dead") }, unprivileged.screen)
    }
}
