import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// A private tmux server running one command in a fixed-size terminal, for end-to-end tests.
///
/// tmux is spawned directly with every descriptor above 2 closed and an empty signal mask, since
/// the tmux server would otherwise keep the test's descriptors and signal mask (see
/// shared/notes/terminal-and-inotify.md).
public final class TmuxSession {
    private let socket: String
    private let directory: String
    /// The command runs under a shell that writes its exit status here, which is more reliable
    /// than tmux's `pane_dead_status`.
    private let statusPath: String

    /// Starts `command` in a `width`x`height` terminal. Skips the test when tmux is missing, except
    /// under `CI=true`, where that fails it. With `lingering`, the pane's tty stays open after the
    /// command ends (a `sleep` that changes nothing takes its place), so its ``terminalState`` can be read.
    public init(
        command: [String], width: Int = 120, height: Int = 35, environment: [String: String] = [:],
        lingering: Bool = false, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        guard let tmux = Self.tmuxPath else {
            if TestSupport.isCI { XCTFail("tmux is not installed; run scripts/setup.sh", file: file, line: line) }
            throw XCTSkip("tmux is not installed; run scripts/setup.sh")
        }
        _ = tmux
        directory = NSTemporaryDirectory() + "locktop-tmux-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        socket = directory + "/tmux.sock"
        var arguments = [
            "new-session", "-d", "-x", String(width), "-y", String(height), "-e", "LANG=C.UTF-8", "-e",
            "TERM=xterm-256color",
        ]
        for (name, value) in environment { arguments += ["-e", "\(name)=\(value)"] }
        statusPath = directory + "/exit-status"
        let linger = lingering ? "; exec sleep 600" : ""
        let wrapped = ["/bin/sh", "-c", "\"$@\"; echo $? > '\(statusPath)'\(linger)", "sh"] + command
        let quoted = wrapped.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        arguments.append(quoted)
        let started = run(arguments)
        guard started.status == 0 else {
            throw XCTSkip("tmux could not start: \(started.output)")
        }
        _ = run(["set-option", "-t", "0", "remain-on-exit", "on"])
    }

    deinit {
        _ = run(["kill-server"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    static var tmuxPath: String? {
        ["/usr/bin/tmux", "/usr/local/bin/tmux", "/bin/tmux"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs one tmux client command against this session's server.
    @discardableResult
    public func run(_ arguments: [String]) -> (status: Int32, output: String) {
        guard let tmux = Self.tmuxPath else { return (127, "") }
        return TestSupport.runLeavingDaemons(tmux, ["-S", socket] + arguments)
    }

    /// The visible screen text.
    public var screen: String {
        run(["capture-pane", "-p", "-t", "0"]).output
    }

    /// Sends keys in tmux's `send-keys` names (`Enter`, `Escape`, `q`, ...).
    public func send(_ keys: String...) {
        for key in keys { run(["send-keys", "-t", "0", key]) }
    }

    /// Types literal text.
    public func type(_ text: String) {
        run(["send-keys", "-t", "0", "-l", text])
    }

    /// Resizes the terminal.
    public func resize(width: Int, height: Int) {
        run(["resize-window", "-t", "0", "-x", String(width), "-y", String(height)])
    }

    /// Polls the screen every 20 ms until `predicate` holds, for at most `timeout` seconds.
    @discardableResult
    public func waitForScreen(timeout: TimeInterval = 10, _ predicate: (String) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if predicate(screen) { return true }
            usleep(20_000)
        }
        return predicate(screen)
    }

    /// The exit status once the command has ended, or nil while it runs.
    public var exitStatus: Int32? {
        (try? String(contentsOfFile: statusPath, encoding: .utf8)).flatMap {
            Int32($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    /// The pid of the command under test (a child of the wrapping shell).
    public var commandProcessID: Int32? {
        let shell = run(["display-message", "-p", "-t", "0", "#{pane_pid}"]).output.trimmingCharacters(
            in: .whitespacesAndNewlines)
        let children = (try? String(contentsOfFile: "/proc/\(shell)/task/\(shell)/children", encoding: .utf8)) ?? ""
        return children.split(separator: " ").first.flatMap { Int32($0) }
    }

    /// What the terminal was left in: whether the alternate screen is still on, the cursor shown,
    /// mouse reporting on, and the line discipline's `icanon` and `echo` (from `stty -a` on the pane's tty).
    public struct TerminalState: Equatable, Sendable {
        public var alternateScreen: Bool
        public var cursorShown: Bool
        public var mouseReporting: Bool
        public var canonical: Bool
        public var echoes: Bool

        /// A terminal as a shell expects it.
        public static let restored = TerminalState(
            alternateScreen: false, cursorShown: true, mouseReporting: false, canonical: true, echoes: true)

        public init(alternateScreen: Bool, cursorShown: Bool, mouseReporting: Bool, canonical: Bool, echoes: Bool) {
            self.alternateScreen = alternateScreen
            self.cursorShown = cursorShown
            self.mouseReporting = mouseReporting
            self.canonical = canonical
            self.echoes = echoes
        }
    }

    /// The pane's terminal state now, as tmux and the tty's termios report it.
    public var terminalState: TerminalState {
        let format =
            "#{alternate_on} #{cursor_flag} #{mouse_any_flag}#{mouse_standard_flag}#{mouse_button_flag} #{pane_tty}"
        let fields = run(["display-message", "-p", "-t", "0", format]).output.split(separator: " ").map {
            $0.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let modes = fields.count == 4 ? TestSupport.runLeavingDaemons("/bin/stty", ["-a", "-F", fields[3]]).output : ""
        let words = Set(modes.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == ";" }).map(String.init))
        return TerminalState(
            alternateScreen: fields.first == "1", cursorShown: fields.count > 1 && fields[1] == "1",
            mouseReporting: fields.count > 2 && fields[2].contains("1"),
            canonical: words.contains("icanon"), echoes: words.contains("echo"))
    }

    /// Waits for the command to end and returns its status.
    public func waitForExit(timeout: TimeInterval = 10) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let status = exitStatus { return status }
            usleep(20_000)
        }
        return exitStatus
    }
}
