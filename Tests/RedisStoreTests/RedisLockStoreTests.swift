import Foundation
import LocktopTestSupport
import XCTest

@testable import RedisStore

/// The lock store against a real redis-server.
final class RedisLockStoreTests: XCTestCase {
    func store(_ server: RedisServer, prefix: String = "lock:") throws -> RedisLockStore {
        RedisLockStore(connection: try RedisConnection(url: RedisURL(server.url()), timeout: 2), prefix: prefix)
    }

    func testTakeListAndReleaseOnlyWithTheToken() throws {
        let server = try RedisServer(for: self)
        let locks = try store(server)
        XCTAssertTrue(try locks.acquire(key: "task.b", holder: "8f14e45f-ceea-467f-a0e6-8d5e1b7f2a11"))
        XCTAssertFalse(try locks.acquire(key: "task.b", holder: "someone-else"), "SET NX")
        XCTAssertTrue(try locks.acquire(key: "leased", holder: "web-1:4242:139872:MainThread", timeToLive: 60_000))
        let listed = try locks.locks().sorted { $0.key < $1.key }
        XCTAssertEqual(listed.map(\.key), ["leased", "task.b"])
        XCTAssertEqual(listed[1].holderText, "8f14e45f-ceea-467f-a0e6-8d5e1b7f2a11")
        XCTAssertNil(listed[1].timeToLive, "no TTL, as Prefect transactions take them")
        XCTAssertTrue(
            (59_000...60_000).contains(listed[0].timeToLive ?? 0), "\(String(describing: listed[0].timeToLive))")
        XCTAssertFalse(
            try locks.remove(name: listed[1].name, holder: Array("someone-else".utf8)), "a changed token is not removed"
        )
        XCTAssertNotNil(try locks.lock(forKey: "task.b"))
        XCTAssertTrue(try locks.remove(name: listed[1].name, holder: listed[1].holder))
        XCTAssertNil(try locks.lock(forKey: "task.b"))
        XCTAssertFalse(try locks.remove(name: listed[1].name, holder: listed[1].holder), "gone")
        XCTAssertTrue(try locks.renew(key: "leased", holder: "web-1:4242:139872:MainThread", timeToLive: 5_000))
        XCTAssertLessThanOrEqual(try XCTUnwrap(locks.lock(forKey: "leased")?.timeToLive), 5_000)
        XCTAssertFalse(try locks.renew(key: "leased", holder: "not-me", timeToLive: 90_000))
        // The script ran by its digest: EVALSHA found it after the first EVAL.
        let digest = SHA1.hex(Array(RedisLockStore.compareAndDeleteWithRecord.utf8))
        XCTAssertEqual(try locks.connection.command(["SCRIPT", "EXISTS", digest]).elements, [.integer(1)])
    }

    func testScanFindsOnlyStringLocksUnderThePrefixAmongOtherKeys() throws {
        let server = try RedisServer(for: self)
        let locks = try store(server)
        locks.scanCount = 7
        let connection = locks.connection
        var commands: [[[UInt8]]] = []
        for index in 0..<300 { commands.append(["SET", "result:\(index)", "{}"].map { Array($0.utf8) }) }
        for index in 0..<40 { commands.append(["SET", "lock:k\(index)", "holder-\(index)"].map { Array($0.utf8) }) }
        commands.append(["RPUSH", "lock:a-list", "x"].map { Array($0.utf8) })
        commands.append([Array("SET".utf8), Array("lock:".utf8) + [0xFF, 0x2E], Array("binary".utf8)])
        _ = try connection.pipeline(commands)
        let listed = try locks.locks()
        XCTAssertEqual(listed.count, 41, "40 string locks and one with a non-UTF-8 name; the list is left out")
        XCTAssertEqual(Set(listed.map(\.key)).count, 41, "each once, across SCAN steps")
        XCTAssertTrue(listed.contains { $0.name == Array("lock:".utf8) + [0xFF, 0x2E] && $0.key == "\u{FFFD}." })
        let globbed = try store(server, prefix: "lock*")
        _ = try connection.command(["SET", "lock*x", "h"])
        XCTAssertEqual(try globbed.locks().map(\.key), ["x"], "a glob character in the prefix matches itself only")
    }

    func testALongValueIsReadAsItsFirstBytesOnly() throws {
        let server = try RedisServer(for: self)
        let locks = try store(server)
        _ = try locks.connection.command(["SET", "lock:huge", String(repeating: "h", count: 1 << 20)])
        let huge = try XCTUnwrap(locks.locks().first)
        XCTAssertEqual(huge.holder.count, RedisLockStore.maximumValueLength, "4 KiB of the 1 MiB value")
        XCTAssertFalse(try locks.remove(name: huge.name, holder: huge.holder), "a token read cut short removes nothing")
        XCTAssertEqual(try locks.connection.command(["STRLEN", "lock:huge"]), .integer(1 << 20))
    }

    func testPasswordDatabaseAndErrorsAreClear() throws {
        let server = try RedisServer(for: self, arguments: ["--requirepass", "s3cret"])
        XCTAssertThrowsError(try RedisConnection(url: RedisURL(server.url(password: "wrong")))) { error in
            XCTAssertTrue("\(error)".contains("WRONGPASS") || "\(error)".contains("invalid password"), "\(error)")
        }
        let unauthenticated = try RedisLockStore(connection: RedisConnection(url: RedisURL(server.url())))
        XCTAssertThrowsError(try unauthenticated.locks()) { error in
            XCTAssertTrue("\(error)".contains("NOAUTH"), "\(error)")
        }
        let five = try RedisLockStore(
            connection: RedisConnection(url: RedisURL(server.url(database: 5, password: "s3cret"))))
        XCTAssertTrue(try five.acquire(key: "k", holder: "h"))
        let zero = try RedisLockStore(
            connection: RedisConnection(url: RedisURL(server.url(database: 0, password: "s3cret"))))
        XCTAssertEqual(try zero.locks(), [], "SELECT 5 kept the lock in database 5")
        XCTAssertThrowsError(try RedisConnection(url: RedisURL("rediss://127.0.0.1:\(server.port)/0"))) { error in
            XCTAssertTrue("\(error)".contains("TLS"), "\(error)")
        }
    }

    func testAServerThatGoesAwayIsAnErrorNotAHang() throws {
        let server = try RedisServer(for: self)
        let locks = try store(server)
        XCTAssertEqual(try locks.locks(), [])
        server.stop()
        let started = Date()
        XCTAssertThrowsError(try locks.locks())
        XCTAssertThrowsError(try RedisConnection(url: RedisURL(server.url()), timeout: 1)) { error in
            XCTAssertTrue(
                "\(error)".contains("cannot connect to Redis at redis://127.0.0.1:\(server.port)/0"), "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        // A server that accepts and never answers: the call times out.
        let (silent, port) = RedisServer.boundSocket()
        defer { close(silent) }
        listen(silent, 4)
        let mute = Date()
        XCTAssertThrowsError(try RedisConnection(url: RedisURL("redis://:pw@127.0.0.1:\(port)/0"), timeout: 0.5)) {
            error in
            XCTAssertEqual(error as? RedisError, .timedOut(server: "redis://127.0.0.1:\(port)/0", operation: "a reply"))
        }
        XCTAssertLessThan(Date().timeIntervalSince(mute), 3)
    }
}

/// rediss:// through the system's OpenSSL, against a redis-server serving TLS only.
final class RedisTLSTests: XCTestCase {
    func testTLSWithTheRightCAWorksAndAnUntrustedServerIsRefused() throws {
        let certificates = TestSupport.temporaryDirectory(for: self)
        let port = RedisServer.freePort()
        let (arguments, authority) = try RedisServer.tlsArguments(port: port, in: certificates)
        _ = try RedisServer(for: self, arguments: arguments + ["--notify-keyspace-events", "K$gx"])
        let url = try RedisURL("rediss://127.0.0.1:\(port)/0")
        let store = RedisLockStore(
            connection: try RedisConnection(url: url, timeout: 2, certificateAuthorities: authority))
        XCTAssertTrue(try store.acquire(key: "secure", holder: "h"))
        XCTAssertEqual(try store.locks().map(\.key), ["secure"])
        XCTAssertTrue(try store.remove(name: store.name(forKey: "secure"), holder: Array("h".utf8)))
        XCTAssertThrowsError(try RedisConnection(url: url, timeout: 2)) { error in
            XCTAssertTrue(
                "\(error)".contains("certificate is not trusted"), "the system's CAs do not know the test CA: \(error)")
        }
        XCTAssertThrowsError(
            try RedisConnection(url: RedisURL("redis://127.0.0.1:\(port)/0"), timeout: 1),
            "plain text to a TLS port gets no answer")
        let big = String(repeating: "x", count: 200_000)
        XCTAssertTrue(try store.acquire(key: "big", holder: big), "a value larger than a TLS record")
        XCTAssertEqual(try store.connection.command(["GET", "lock:big"]).text, big)
        XCTAssertEqual(try store.lock(forKey: "big")?.holder.count, RedisLockStore.maximumValueLength)
    }
}
