import ArgumentParser
import Foundation
import RecordStore

/// Passwords given in a Redis URL on the command line: `/proc/PID/cmdline` (and so `ps`) would
/// show them to every user of the host. As MySQL's client does, locktop overwrites them in its own
/// argv at start (the parser reads its copy) and says once how to pass one instead.
enum CommandLineSecrets {
    /// Replaces the password of every `redis://user:password@…` argument with `x`s in the process's
    /// argv; true when it found one.
    @discardableResult
    static func hidePasswords() -> Bool {
        var found = false
        // argc may be 0 (execve with an empty argv), or unknown to Swift under some LD_PRELOAD libraries.
        for index in 1..<max(1, Int(CommandLine.argc)) {
            guard let argument = CommandLine.unsafeArgv[index] else { continue }
            let length = strlen(argument)
            let bytes = UnsafeMutableBufferPointer(
                start: UnsafeMutableRawPointer(argument).assumingMemoryBound(to: UInt8.self),
                count: length)
            guard let range = passwordRange(in: bytes) else { continue }
            for position in range { bytes[position] = UInt8(ascii: "x") }
            found = true
        }
        if found {
            Console.warn(
                "warning: a password in a Redis URL shows in ps to every user here; it was hidden from this process's command line, but use --redis-password-file or $LOCKTOP_REDIS_PASSWORD"
            )
        }
        return found
    }

    /// The secret in the file `path` that `option` names (`--redis-password-file`, `--bearer-token-file`):
    /// its first line, without a trailing carriage return.
    static func firstLine(ofFile path: String, option: String) throws -> String {
        guard let bytes = try FileSystem.readFile(path, limit: 64 * 1024) else {
            throw ValidationError("\(option): \(path) does not exist")
        }
        let line =
            String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).first ?? ""
        return String(line).trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
    }

    /// Where the password of a `redis://` or `rediss://` URL (or `--redis=URL`) is in `bytes`.
    static func passwordRange(in bytes: UnsafeMutableBufferPointer<UInt8>) -> Range<Int>? {
        let text = Array(bytes)
        for scheme in ["redis://", "rediss://"] {
            let marker = Array(scheme.utf8)
            guard
                let start = (0...max(0, text.count - marker.count)).first(where: {
                    text[$0..<min(text.count, $0 + marker.count)].elementsEqual(marker)
                })
            else { continue }
            let authority = start + marker.count
            let end = text[authority...].firstIndex(where: { $0 == UInt8(ascii: "/") }) ?? text.count
            guard let at = text[authority..<end].lastIndex(of: UInt8(ascii: "@")),
                let colon = text[authority..<at].firstIndex(of: UInt8(ascii: ":")), colon + 1 < at
            else { return nil }
            return (colon + 1)..<at
        }
        return nil
    }
}
