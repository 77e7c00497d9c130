import Foundation
import LocktopTestSupport
import XCTest

@testable import RedisStore

/// A hostile or broken server cannot hang or bloat locktop: endless replies hit the deadline (and
/// the reply cap), and a SCAN cursor that never returns to 0 is cut off.
final class HostileRedisTests: XCTestCase {
    /// A fake server on a free port that answers every command with `+OK` (DBSIZE with `:10`), and
    /// SCAN as `mode` says: `endless` streams 64 KiB bulk strings for ever; `cursor` always says
    /// "more"; `value` lists one lock, whose value (GETRANGE) it says is 60 MB long, and streams.
    func fakeServer(_ mode: String) throws -> (RedisLockStore, Int) {
        let port = RedisServer.freePort()
        let script = """
            import socket, sys
            mode, port = sys.argv[1], int(sys.argv[2])
            listener = socket.socket(); listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", port)); listener.listen(4)
            print("ready", flush=True)
            connection, _ = listener.accept()
            pending = b""
            while True:
                data = connection.recv(65536)
                if not data: break
                pending += data
                while b"\\r\\n" in pending:
                    if not pending.startswith(b"*"): pending = b""; break
                    count = int(pending[1:pending.index(b"\\r\\n")])
                    parts = pending.split(b"\\r\\n")
                    if len(parts) < 1 + 2 * count + 1: break
                    words = parts[2:2 + 2 * count:2]
                    pending = b"\\r\\n".join(parts[1 + 2 * count:])
                    name = words[0].upper()
                    if name == b"DBSIZE": connection.sendall(b":10\\r\\n")
                    elif name == b"SCAN" and mode == "endless":
                        connection.sendall(b"*2\\r\\n$1\\r\\n0\\r\\n*1000000\\r\\n")
                        chunk = b"$65536\\r\\n" + b"x" * 65536 + b"\\r\\n"
                        try:
                            while True: connection.sendall(chunk)
                        except OSError: sys.exit(0)
                    elif name == b"SCAN" and mode == "value":
                        connection.sendall(b"*2\\r\\n$1\\r\\n0\\r\\n*1\\r\\n$6\\r\\nlock:k\\r\\n")
                    elif name == b"GETRANGE":
                        connection.sendall(b"$60000000\\r\\n")
                        chunk = b"x" * 65536
                        try:
                            while True: connection.sendall(chunk)
                        except OSError: sys.exit(0)
                    elif name == b"SCAN": connection.sendall(b"*2\\r\\n$1\\r\\n7\\r\\n*0\\r\\n")
                    else: connection.sendall(b"+OK\\r\\n")
            """
        let server = try TestSupport.start("/usr/bin/env", ["python3", "-c", script, mode, String(port)])
        XCTAssertTrue(server.waitForOutput(containing: "ready", timeout: 10), server.standardError)
        addTeardownBlock {
            server.signal(SIGKILL)
            _ = server.wait(timeout: 5)
        }
        let store = RedisLockStore(
            connection: try RedisConnection(url: RedisURL("redis://127.0.0.1:\(port)/0"), timeout: 2))
        return (store, port)
    }

    func testEndlessRepliesEndAtTheDeadlineOrTheCapInsteadOfFillingMemory() throws {
        let (store, port) = try fakeServer("endless")
        try TestSupport.resetPeakMemory()
        let before = try XCTUnwrap(TestSupport.memoryKiB("VmRSS"))
        let started = Date()
        XCTAssertThrowsError(try store.locks()) { error in
            // Whichever comes first: the 2 s deadline, or the cap (loopback delivers 64 MiB in well under a second).
            let server = "redis://127.0.0.1:\(port)/0"
            let stopped = [
                RedisError.timedOut(server: server, operation: "a reply"),
                .protocolViolation("a reply over 64 MiB from \(server)"),
            ]
            XCTAssertTrue((error as? RedisError).map(stopped.contains) == true, "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 4, "the 2 s deadline holds inside the read loop")
        // The buffer at the cap, its copy while it grows, and one partial parse's copies of its bulk strings.
        let grown = try XCTUnwrap(TestSupport.memoryKiB("VmHWM")) - before
        XCTAssertLessThan(grown, 256 * 1024, "this test's own peak stays near the 64 MiB cap (KiB): \(grown)")
    }

    func testALockValueOverItsCapIsRefusedOnceItsLengthIsRead() throws {
        let (store, _) = try fakeServer("value")
        let started = Date()
        XCTAssertThrowsError(try store.locks()) { error in
            XCTAssertEqual(
                error as? RedisError, .protocolViolation("a bulk string of 60000000 bytes, over the 4096-byte limit"))
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 1, "refused at the length, not after 60 MB")
    }

    func testAScanCursorThatNeverReturnsToZeroIsCutOff() throws {
        let (store, _) = try fakeServer("cursor")
        let started = Date()
        XCTAssertThrowsError(try store.locks()) { error in
            XCTAssertEqual(error as? RedisError, .protocolViolation("SCAN did not finish in 16 rounds over 10 keys"))
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 4)
    }
}
