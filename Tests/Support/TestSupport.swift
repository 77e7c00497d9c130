import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Helpers shared by the test targets: temporary directories, built products, child processes,
/// and the Prefect venvs.
public enum TestSupport {
    /// The package root, found from this file's path.
    public static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The directory that holds the built executables next to the test bundle.
    public static let productsDirectory: String = {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
    }()

    /// The path of the built executable `name`.
    public static func executable(_ name: String) -> String {
        "\(productsDirectory)/\(name)"
    }

    /// Whether the tests run in CI, where missing tools must fail loudly rather than skip.
    public static var isCI: Bool {
        ProcessInfo.processInfo.environment["CI"].map { ["true", "1", "yes"].contains($0.lowercased()) } ?? false
    }

    /// The `XDG_STATE_HOME` every child process gets unless a test names its own, so no test writes
    /// the operator's audit log: a temporary directory of this test process.
    public static let stateHome: String = {
        let path = NSTemporaryDirectory() + "locktop-test-state-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    /// Makes a fresh temporary directory that is removed when `test` ends.
    public static func temporaryDirectory(for test: XCTestCase) -> String {
        let path = NSTemporaryDirectory() + "locktop-test-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    /// The Python of the venv with `prefect==version`. Skips the test when it is missing,
    /// except under `CI=true`, where a missing venv fails the test.
    public static func prefectPython(_ version: String, file: StaticString = #filePath, line: UInt = #line) throws
        -> String
    {
        let root =
            ProcessInfo.processInfo.environment["LOCKTOP_VENV_ROOT"] ?? NSHomeDirectory() + "/.cache/locktop/venvs"
        let python = "\(root)/prefect-\(version)/bin/python"
        if FileManager.default.isExecutableFile(atPath: python) { return python }
        let message = "no Prefect \(version) venv at \(python); run scripts/setup.sh"
        if isCI {
            XCTFail(message, file: file, line: line)
            throw XCTSkip("failed: " + message)
        }
        throw XCTSkip(message)
    }

    /// The path of a helper script in `Tests/PrefectScripts`.
    /// A CA and a certificate for 127.0.0.1 and localhost signed by it, made with `openssl` in
    /// `directory`: the paths of the CA's certificate, the server's certificate and its key.
    public static func makeCertificates(in directory: String) throws -> (
        certificateAuthority: String, certificate: String, key: String
    ) {
        let script = """
            set -e
            cd "$0"
            openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj "/CN=locktop test CA" 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
            printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > extensions
            openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile extensions 2>/dev/null
            """
        let made = try run("/bin/sh", ["-c", script, directory])
        guard made.status == 0 else { throw XCTSkip("openssl could not make a test CA: \(made.standardError)") }
        return ("\(directory)/ca.crt", "\(directory)/server.crt", "\(directory)/server.key")
    }

    public static func prefectScript(_ name: String) -> String {
        "\(packageRoot)/Tests/PrefectScripts/\(name)"
    }

    /// What a finished child process left.
    public struct Outcome: Sendable {
        public var status: Int32
        public var standardOutput: String
        public var standardError: String
    }

    /// A started child process whose output is collected into files.
    public final class Child: @unchecked Sendable {
        public let process = Process()
        private let outputPath: String
        private let errorPath: String

        init(_ executable: String, _ arguments: [String], environment: [String: String], input: Bool) throws {
            let base = NSTemporaryDirectory() + "locktop-child-\(UInt64.random(in: 0...UInt64.max))"
            outputPath = base + ".out"
            errorPath = base + ".err"
            _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
            _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            var merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            if environment["XDG_STATE_HOME"] == nil { merged["XDG_STATE_HOME"] = TestSupport.stateHome }
            process.environment = merged
            process.standardOutput = FileHandle(forWritingAtPath: outputPath)
            process.standardError = FileHandle(forWritingAtPath: errorPath)
            if input { process.standardInput = Pipe() } else { process.standardInput = FileHandle.nullDevice }
            try process.run()
        }

        /// The output so far.
        public var standardOutput: String {
            (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        }

        /// The error output so far.
        public var standardError: String {
            (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
        }

        /// Closes the child's standard input (started with `input: true`): end of file.
        public func closeInput() throws {
            try (process.standardInput as? Pipe)?.fileHandleForWriting.close()
        }

        /// Sends a signal.
        public func signal(_ number: Int32) {
            kill(process.processIdentifier, number)
        }

        /// Waits for exit, killing the child after `timeout` seconds.
        public func wait(timeout: TimeInterval = 60) -> Outcome {
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning && Date() < deadline { usleep(5_000) }
            if process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
            process.waitUntilExit()
            let outcome = Outcome(
                status: process.terminationStatus, standardOutput: standardOutput, standardError: standardError)
            try? FileManager.default.removeItem(atPath: outputPath)
            try? FileManager.default.removeItem(atPath: errorPath)
            return outcome
        }

        /// Waits until the output contains `text`, for at most `timeout` seconds.
        public func waitForOutput(containing text: String, timeout: TimeInterval = 30) -> Bool {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if standardOutput.contains(text) { return true }
                if !process.isRunning { return standardOutput.contains(text) }
                usleep(5_000)
            }
            return false
        }
    }

    /// Starts `executable` with `arguments`.
    public static func start(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:],
        input: Bool = false
    ) throws -> Child {
        try Child(executable, arguments, environment: environment, input: input)
    }

    /// Runs `executable` to completion.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:],
        timeout: TimeInterval = 120
    ) throws -> Outcome {
        try start(executable, arguments, environment: environment).wait(timeout: timeout)
    }

    /// Renders the SVG at `path` to PNG with `rsvg-convert` (Debian's librsvg2-bin) and fails
    /// unless the PNG is there, is more than a blank picture's size, and is `width` pixels wide and
    /// as tall as the SVG says. Skips when rsvg-convert is missing, except under `CI=true`.
    public static func checkRendersToPNG(
        _ path: String, width: Int, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        guard
            let converter = ["/usr/bin/rsvg-convert", "/usr/local/bin/rsvg-convert"].first(where: {
                FileManager.default.isExecutableFile(atPath: $0)
            })
        else {
            if isCI { XCTFail("rsvg-convert is not installed; run scripts/setup.sh", file: file, line: line) }
            throw XCTSkip("rsvg-convert is not installed")
        }
        let svg = try String(contentsOfFile: path, encoding: .utf8)
        let height = svg.range(of: #"height="(\d+)""#, options: .regularExpression).map {
            Int(svg[$0].dropFirst(8).dropLast()) ?? 0
        }
        let png = path + ".png"
        let outcome = try run(converter, [path, "-o", png])
        XCTAssertEqual(outcome.status, 0, outcome.standardError, file: file, line: line)
        let bytes = try XCTUnwrap(FileManager.default.contents(atPath: png), file: file, line: line)
        XCTAssertGreaterThan(bytes.count, 2000, "a picture with something drawn in it", file: file, line: line)
        // A PNG's IHDR: width and height, big-endian, at bytes 16 and 20.
        XCTAssertEqual(
            Array(bytes.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], file: file, line: line)
        let size = { (offset: Int) in bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) } }
        XCTAssertEqual(size(16), width, file: file, line: line)
        XCTAssertEqual(size(20), height, file: file, line: line)
    }

    /// Runs a command that may leave a daemon behind (tmux, bindfs) and returns its status and output.
    ///
    /// It is spawned directly, with every descriptor above 2 closed and an empty signal mask:
    /// `Foundation.Process` would wait for ever on a descriptor the daemon keeps, and a daemon
    /// would keep the test's blocked signals (see shared/notes/terminal-and-inotify.md).
    public static func runLeavingDaemons(_ executable: String, _ arguments: [String]) -> (status: Int32, output: String)
    {
        let outputPath = NSTemporaryDirectory() + "locktop-daemon-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        if let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            for name in names { if let fd = Int32(name), fd > 2 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) } }
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        var cArguments = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, executable, &actions, &attributes, &cArguments, environ) == 0 else { return (127, "") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: outputPath)
        return ((status >> 8) & 0xFF, output)
    }

    /// The pid of a process that ran and is gone: `/bin/true`, started and reaped.
    public static func goneProcessID() -> Int32 {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try? child.run()
        child.waitUntilExit()
        return child.processIdentifier
    }

    /// A memory figure of process `pid` ("self" for this one) from its `/proc/<pid>/status`, in KiB:
    /// `VmRSS` now, or `VmHWM`, the peak.
    public static func memoryKiB(_ field: String, ofProcess pid: String = "self") -> Int? {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }) else { return nil }
        return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
    }

    /// Resets this process's `VmHWM` to its `VmRSS`, so a test measures its own peak, not the suite's.
    public static func resetPeakMemory() throws {
        try "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }

    /// Polls `condition` every 10 ms until it holds or `timeout` seconds pass.
    public static func eventually(timeout: TimeInterval = 10, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            if try condition() { return true }
            usleep(10_000)
        } while Date() < deadline
        return try condition()
    }
}
