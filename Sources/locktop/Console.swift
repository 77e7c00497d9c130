import ArgumentParser
import Foundation

/// Output and error reporting for the CLI: one clear line per error, unbuffered output.
enum Console {
    /// Writes `text` to standard output at once.
    static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// Writes bytes to standard output at once.
    static func write(bytes: [UInt8]) {
        FileHandle.standardOutput.write(Data(bytes))
    }

    /// Writes one line to standard error.
    static func warn(_ text: String) {
        FileHandle.standardError.write(Data("locktop: \(text)\n".utf8))
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
