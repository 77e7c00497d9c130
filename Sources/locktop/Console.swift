import ArgumentParser
import Foundation
import RecordStore

/// Output and error reporting for the CLI: one clear line per error, unbuffered output.
enum Console {
    /// Writes human-readable `text` to standard output at once, every line escaped by ``TerminalText``,
    /// so nothing read from a lock file can drive the terminal.
    static func write(_ text: String) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { TerminalText.escaped(String($0)) }
        FileHandle.standardOutput.write(Data(lines.joined(separator: "\n").utf8))
    }

    /// Writes bytes to standard output at once, as they are: for JSON, which escapes its own control characters.
    static func write(bytes: [UInt8]) {
        FileHandle.standardOutput.write(Data(bytes))
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
