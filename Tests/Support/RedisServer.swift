import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// A private `redis-server` for one test: 127.0.0.1 on a free port, no persistence, in a temporary
/// directory, stopped when the test ends. Skips the test when redis-server is missing, except
/// under `CI=true` (scripts/setup.sh installs it), where that fails it.
public final class RedisServer: @unchecked Sendable {
    public let port: Int
    public let directory: String
    private let executable: String
    private let arguments: [String]
    private var child: TestSupport.Child?

    /// The server's pid while it runs, for tests that pause it.
    public var processID: Int32? { child?.process.processIdentifier }

    /// The URL of database `database`, with `user` and `password` when given.
    public func url(database: Int = 0, user: String? = nil, password: String? = nil) -> String {
        let credentials = password.map { "\(user ?? ""):\($0)@" } ?? ""
        return "redis://\(credentials)127.0.0.1:\(port)/\(database)"
    }

    /// Starts a server with `arguments` added (`--notify-keyspace-events`, `--aclfile`, ...).
    public init(for test: XCTestCase, arguments: [String] = [], file: StaticString = #filePath, line: UInt = #line)
        throws
    {
        let executable = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
        guard let executable else {
            let message = "no redis-server; run scripts/setup.sh"
            if TestSupport.isCI { XCTFail(message, file: file, line: line) }
            throw XCTSkip(message)
        }
        self.executable = executable
        port = Self.freePort()
        directory = TestSupport.temporaryDirectory(for: test)
        self.arguments =
            [
                "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", directory, "--logfile", "",
            ] + arguments
        try start()
        test.addTeardownBlock { self.stop() }
    }

    /// Starts the server (again, after ``stop()``), on the same port.
    public func start() throws {
        let child = try TestSupport.start(executable, arguments)
        guard child.waitForOutput(containing: "Ready to accept connections", timeout: 20) else {
            child.signal(SIGKILL)
            throw XCTSkip("redis-server did not start: \(child.standardOutput.suffix(500))")
        }
        self.child = child
    }

    /// A CA and a certificate for 127.0.0.1 signed by it (``TestSupport/makeCertificates(in:)``):
    /// the arguments that serve TLS on `port` (and no plain text), and the CA's path.
    public static func tlsArguments(port: Int, in directory: String) throws -> (
        arguments: [String], certificateAuthority: String
    ) {
        let made = try TestSupport.makeCertificates(in: directory)
        return (
            [
                "--port", "0", "--tls-port", String(port), "--tls-cert-file", made.certificate,
                "--tls-key-file", made.key, "--tls-ca-cert-file", made.certificateAuthority, "--tls-auth-clients", "no",
            ], made.certificateAuthority
        )
    }

    /// Stops the server, as a crash would.
    public func stop() {
        child?.signal(SIGKILL)
        _ = child?.wait(timeout: 10)
        child = nil
    }

    /// A port nothing listens on now: the kernel's pick for a socket bound to port 0.
    public static func freePort() -> Int {
        let (descriptor, port) = boundSocket()
        close(descriptor)
        return port
    }

    /// A TCP socket bound to a port of the kernel's pick on 127.0.0.1, not listening yet, and its port.
    public static func boundSocket() -> (descriptor: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                _ = bind(fd, raw, length)
                _ = getsockname(fd, raw, &length)
            }
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }
}
