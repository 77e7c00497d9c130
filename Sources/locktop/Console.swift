import ArgumentParser
import Dashboard
import Foundation
import LockMonitor
import RecordStore

#if canImport(Glibc)
    import Glibc
#endif

/// Output and error reporting for the CLI: one clear line per error, unbuffered output.
enum Console {
    /// Writes human-readable `text` to standard output at once, every line escaped by ``TerminalText``,
    /// so nothing read from a lock file can drive the terminal.
    static func write(_ text: String) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            TerminalText.escaped(String($0))
        }
        FileHandle.standardOutput.write(Data(lines.joined(separator: "\n").utf8))
    }

    /// Writes bytes to standard output at once, as they are: for JSON, which escapes its own control characters.
    static func write(bytes: [UInt8]) {
        FileHandle.standardOutput.write(Data(bytes))
    }

    /// The terminal's width on standard output (`COLUMNS` when it says, else the terminal's own), or 80.
    static var terminalWidth: Int {
        if let columns = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), columns > 0 {
            return columns
        }
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }

    /// A state cell in the verdict's colour (SGR), from the dashboard's one table of state styles.
    static func paint(_ text: String, _ verdict: LockClassification) -> String {
        let style = StateStyle.of(verdict)
        let codes = [style.needsAttention ? "1" : nil, style.role.ansiColor.map { "3\($0)" }].compactMap { $0 }
        return codes.isEmpty ? text : "\u{1B}[\(codes.joined(separator: ";"))m\(text)\u{1B}[0m"
    }

    /// Writes one line to standard error, escaped by ``TerminalText``.
    static func warn(_ text: String) {
        FileHandle.standardError.write(Data("locktop: \(TerminalText.escaped(text))\n".utf8))
    }

    /// Runs `body`, turning any error into one `locktop: error: ...` line and exit status 1.
    static func failing<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let exit as ExitCode {
            throw exit
        } catch {
            warn("error: \(error)")
            throw ExitCode.failure
        }
    }
}
