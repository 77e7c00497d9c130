import Foundation
import LocktopTestSupport
import RecordStore
import XCTest

/// A lock file's contents never reach the operator's terminal raw: every human output of the real
/// binary, run on a pseudo-terminal by `script`, carries the hostile holder escaped and no ESC byte.
final class TerminalInjectionTests: XCTestCase {
    var directory = ""
    var state = ""
    let hostile = "\u{1b}]2;PWNED\u{07}\u{1b}[2J\u{9b}31m"
    let escaped = #"\x1B]2;PWNED\x07\x1B[2J\u009B31m"#

    override func setUp() {
        directory = TestSupport.temporaryDirectory(for: self)
        state = TestSupport.temporaryDirectory(for: self)
    }

    func write(_ name: String, expiration: Date?) throws {
        try LockFiles.replace(
            path: "\(directory)/\(name)", bytes: LockFileContent(holder: hostile, expiration: expiration).encoded())
    }

    /// Runs `locktop ARGS` on a pseudo-terminal and returns every byte the terminal received.
    /// With `seconds`, the command is stopped after that long (for `events`, which runs until stopped).
    func onTerminal(_ arguments: [String], seconds: Int? = nil, while body: () throws -> Void = {}) throws -> [UInt8] {
        let output = "\(state)/typescript-\(UInt64.random(in: 0...UInt64.max))"
        let limit = seconds.map { ["timeout", "-s", "INT", String($0)] } ?? []
        let command = (limit + [TestSupport.executable("locktop")] + arguments).map { "'\($0)'" }.joined(separator: " ")
        let child = try TestSupport.start(
            "/usr/bin/script", ["-qefc", "\(command) > \(output) 2>&1", "/dev/null"],
            environment: ["XDG_STATE_HOME": state])
        try body()
        _ = child.wait(timeout: 30)
        return Array((try? Data(contentsOf: URL(fileURLWithPath: output))) ?? Data())
    }

    /// `bytes` without locktop's own colour sequences (`ESC [ digits ; m`): what is left must hold no ESC.
    /// A hostile holder cannot pass for one, since its ESC byte is printed as the text `\x1B`.
    func withoutColours(_ bytes: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        var index = 0
        while index < bytes.count {
            if bytes[index] == 0x1B, index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "[") {
                var end = index + 2
                while end < bytes.count, bytes[end] == UInt8(ascii: ";") || (0x30...0x39).contains(bytes[end]) {
                    end += 1
                }
                if end < bytes.count, bytes[end] == UInt8(ascii: "m") {
                    index = end + 1
                    continue
                }
            }
            output.append(bytes[index])
            index += 1
        }
        return output
    }

    func assertSafe(_ bytes: [UInt8], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        let bytes = withoutColours(bytes)
        let text = String(decoding: bytes, as: UTF8.self)
        XCTAssertFalse(bytes.contains(0x1B), "\(what) printed an ESC byte: \(text)", file: file, line: line)
        XCTAssertFalse(
            bytes.contains(0x07) || bytes.contains(0x9B), "\(what) printed a control byte", file: file, line: line)
        XCTAssertTrue(text.contains(escaped), "\(what) shows the holder escaped: \(text)", file: file, line: line)
    }

    func testListReleaseBreakAndEventsEscapeAHostileHolder() throws {
        try write("live.lock", expiration: nil)
        try write("gone.lock", expiration: Date().addingTimeInterval(-60))
        assertSafe(try onTerminal(["list", "--dir", directory]), "list")
        assertSafe(try onTerminal(["release", "--dir", directory, "live"]), "a refused release")
        assertSafe(try onTerminal(["break", "--dir", directory]), "break")
        assertSafe(try onTerminal(["release", "--dir", directory, "live", "--force"]), "release --force")
        let events = try onTerminal(["events", "--dir", directory], seconds: 2) {
            usleep(700_000)
            try write("fresh.lock", expiration: nil)
            usleep(200_000)
            try FileManager.default.removeItem(atPath: "\(directory)/fresh.lock")
        }
        let text = String(decoding: events, as: UTF8.self)
        XCTAssertTrue(text.contains("acquired") && text.contains("released"), text)
        assertSafe(events, "events")
    }
}
