import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// A private `prefect server start` for one test: SQLite in a temporary `PREFECT_HOME`, on
/// 127.0.0.1 and a free port, without its UI, stopped (its whole process group) when the test ends.
public final class PrefectServer: @unchecked Sendable {
    /// `PREFECT_API_URL` for its clients.
    public let apiURL: String
    /// The environment its clients run with.
    public let clientEnvironment: [String: String]
    private let child: TestSupport.Child

    /// Starts the server with `python`'s Prefect and waits (up to two minutes) until it answers.
    public init(for test: XCTestCase, python: String) throws {
        let port = RedisServer.freePort()
        let home = TestSupport.temporaryDirectory(for: test)
        apiURL = "http://127.0.0.1:\(port)/api"
        clientEnvironment = ["PREFECT_HOME": home, "PREFECT_API_URL": apiURL, "DO_NOT_TRACK": "1"]
        let prefect = URL(fileURLWithPath: python).deletingLastPathComponent().appendingPathComponent("prefect").path
        // The child leads a process group of its own (Foundation's Process makes it one): the server
        // and its workers are killed together.
        child = try TestSupport.start(
            prefect, ["server", "start", "--host", "127.0.0.1", "--port", String(port)],
            environment: [
                "PREFECT_HOME": home, "PREFECT_UI_ENABLED": "false", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "DO_NOT_TRACK": "1", "PREFECT_SERVER_API_HOST": "127.0.0.1",
            ])
        let started = Date()
        let probe = "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)"
        while Date().timeIntervalSince(started) < 120 {
            if try TestSupport.run(python, ["-c", probe, "\(apiURL)/health"], timeout: 10).status == 0 {
                let child = self.child
                test.addTeardownBlock {
                    kill(-child.process.processIdentifier, SIGKILL)
                    _ = child.wait(timeout: 10)
                }
                return
            }
            guard child.process.isRunning else { break }
            usleep(500_000)
        }
        kill(-child.process.processIdentifier, SIGKILL)
        let outcome = child.wait(timeout: 10)
        throw CocoaError(
            .executableLoad,
            userInfo: [
                NSDebugDescriptionErrorKey: "prefect server did not start: \(outcome.standardError.suffix(2000))"
            ])
    }
}
