import Foundation
import XCTest

@testable import RedisStore

/// The URL, RESP and SHA-1, on values.
final class RedisProtocolTests: XCTestCase {
    func testURLsAsRedisPyTakesThemAndThePasswordIsNeverShown() throws {
        let full = try RedisURL("redis://ops:s%40cret@cache.internal:6380/3")
        XCTAssertEqual(
            [full.host, String(full.port), String(full.database), full.username ?? "-", full.password ?? "-"],
            ["cache.internal", "6380", "3", "ops", "s@cret"])
        XCTAssertEqual(full.description, "redis://ops@cache.internal:6380/3")
        let bare = try RedisURL("redis://localhost")
        XCTAssertEqual([bare.port, bare.database], [6379, 0])
        XCTAssertNil(bare.password)
        XCTAssertEqual(try RedisURL("redis://:pw@[::1]:7000/0").description, "redis://[::1]:7000/0")
        XCTAssertTrue(try RedisURL("rediss://h/0").usesTLS)
        for bad in ["http://h", "redis://", "redis://h/x", "redis://h:0", "h:6379"] {
            XCTAssertThrowsError(try RedisURL(bad), bad)
        }
        for leaking in ["redis://u:topsecret@h/notanumber", "redis://:topsecret@[bad", "redis://u:topsecret@h:99999"] {
            XCTAssertThrowsError(try RedisURL(leaking)) { error in
                XCTAssertFalse(
                    "\(error)".contains("topsecret"), "a URL that does not parse still hides its password: \(error)")
            }
        }
    }

    func testRepliesParseWhenCompleteAndNotBefore() throws {
        let reply = Array("*3\r\n$5\r\nhello\r\n$-1\r\n*2\r\n:42\r\n+OK\r\n-ERR bad\r\n".utf8)
        var index = 0
        for cut in [1, 5, 12, reply.count - 12] {
            var partial = 0
            XCTAssertNil(try RESPValue.parse(Array(reply[..<cut]), at: &partial), "\(cut) bytes are not a reply yet")
            XCTAssertEqual(partial, 0)
        }
        XCTAssertEqual(
            try RESPValue.parse(reply, at: &index),
            .array([.bulk(Array("hello".utf8)), .bulk(nil), .array([.integer(42), .simple("OK")])]))
        XCTAssertEqual(try RESPValue.parse(reply, at: &index), .error("ERR bad"))
        XCTAssertEqual(index, reply.count)
        var start = 0
        XCTAssertThrowsError(try RESPValue.parse(Array("?what\r\n".utf8), at: &start))
        XCTAssertThrowsError(
            try RESPValue.parse(Array("$999999999999\r\n".utf8), at: &start), "a huge bulk length is refused")
        XCTAssertEqual(
            RESPValue.encode([Array("GET".utf8), [0x00, 0xFF]]),
            Array("*2\r\n$3\r\nGET\r\n$2\r\n".utf8) + [0x00, 0xFF, 0x0D, 0x0A])
    }

    func testScriptDigestsAreRedisSHA1() {
        XCTAssertEqual(SHA1.hex(Array("abc".utf8)), "a9993e364706816aba3e25717850c26c9cd0d89d")
        XCTAssertEqual(SHA1.hex([]), "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        XCTAssertEqual(
            SHA1.hex(Array(String(repeating: "a", count: 1000).utf8)), "291e9a6c66994949b57ba5e650361e98fc36b1ba")
        XCTAssertEqual(RedisLockStore.globEscaped("lock:[a]*?"), "lock:\\[a\\]\\*\\?")
    }
}
