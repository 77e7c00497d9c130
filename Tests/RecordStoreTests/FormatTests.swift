import Foundation
import XCTest

@testable import RecordStore

final class FormatTests: XCTestCase {
    func testTimestampsInEverySpellingPrefectWrites() throws {
        let reference = try XCTUnwrap(PrefectTimestamp.parse("2026-11-25 19:48:46.512569+00:00"))
        XCTAssertEqual(reference.timeIntervalSince1970, 1_795_636_126.512569, accuracy: 1e-6)
        let equivalents = [
            "2026-11-25T19:48:46.512569+00:00",
            "2026-11-25T19:48:46.512569Z",
            "2026-11-25 20:48:46.512569+01:00",
            "2026-11-25 14:18:46.512569-05:30",
            "2026-11-25T21:48:46.512569+0200",
            "2026-11-25 19:48:46.512569",
        ]
        for text in equivalents {
            let parsed = try XCTUnwrap(PrefectTimestamp.parse(text), text)
            XCTAssertEqual(parsed.timeIntervalSince1970, reference.timeIntervalSince1970, accuracy: 1e-6, text)
        }
        for (text, fraction) in [
            ("2026-11-25 19:48:46+00:00", 0.0), ("2026-11-25 19:48:46.5+00:00", 0.5),
            ("2026-11-25 19:48:46.51+00:00", 0.51), ("2026-11-25 19:48:46.512+00:00", 0.512),
        ] {
            let parsed = try XCTUnwrap(PrefectTimestamp.parse(text), text)
            XCTAssertEqual(parsed.timeIntervalSince1970, 1_795_636_126 + fraction, accuracy: 1e-6, text)
        }
    }

    func testTimestampGarbageIsRejected() {
        for text in [
            "", "tomorrow", "2026-11-25", "2026-13-01 00:00:00", "2026-02-30 00:00:00+00:00",
            "2026-11-25 19:48:46.+00:00", "2026-11-25 19:48:46+25:00", "2026-11-25 19:48:46 junk",
        ] {
            XCTAssertNil(PrefectTimestamp.parse(text), text)
        }
    }

    func testTimestampFormatMatchesPythonStr() throws {
        let date = Date(timeIntervalSince1970: 1_795_636_126.512569)
        XCTAssertEqual(PrefectTimestamp.format(date), "2026-11-25 19:48:46.512569+00:00")
        XCTAssertEqual(PrefectTimestamp.format(Date(timeIntervalSince1970: 0)), "1970-01-01 00:00:00.000000+00:00")
    }

    func testLockContentFromPrefect30AndPrefect39() throws {
        let spaced = try XCTUnwrap(
            LockFileContent(
                parsing: Array(
                    #"{"holder": "web-1:4242:139872:MainThread", "expiration": "2026-11-25 19:48:46.512569+00:00"}"#
                        .utf8)))
        XCTAssertEqual(spaced.holder, "web-1:4242:139872:MainThread")
        XCTAssertEqual(try XCTUnwrap(spaced.expiration).timeIntervalSince1970, 1_795_636_126.512569, accuracy: 1e-6)
        let compact = try XCTUnwrap(
            LockFileContent(
                parsing: Array(#"{"holder":"8f14e45f-ceea-467f-a0e6-8d5e1b7f2a11","expiration":null}"#.utf8)))
        XCTAssertEqual(compact.holder, "8f14e45f-ceea-467f-a0e6-8d5e1b7f2a11")
        XCTAssertNil(compact.expiration)
        let noExpiration = try XCTUnwrap(LockFileContent(parsing: Array(#"{"holder":"x"}"#.utf8)))
        XCTAssertNil(noExpiration.expiration)
    }

    func testLockContentGarbageIsNotParsed() {
        let garbage = [
            "", "{", "[]", "null", #"{"holder": 1}"#, #"{"expiration": null}"#,
            #"{"holder":"x","expiration":"soon"}"#, #"{"holder":"x","expiration":5}"#,
            #"{"holder":"x"} trailing"#, "\u{FFFD}\u{0}",
        ]
        for text in garbage {
            XCTAssertNil(LockFileContent(parsing: Array(text.utf8)), text)
        }
        XCTAssertNil(LockFileContent(parsing: [0xFF, 0xFE, 0x7B]))
    }

    func testEncodedLockIsSpacedAsciiJsonWithHolderFirst() throws {
        let content = LockFileContent(
            holder: "hôst:1:2:Main\"Thread", expiration: Date(timeIntervalSince1970: 1_795_636_126.5),
            hostName: "hôst", processID: 1, processStartTicks: 99,
            acquiredAt: Date(timeIntervalSince1970: 1_795_636_000))
        let text = String(decoding: content.encoded(), as: UTF8.self)
        XCTAssertTrue(
            text.hasPrefix(
                #"{"holder": "h\u00f4st:1:2:Main\"Thread", "expiration": "2026-11-25 19:48:46.500000+00:00", "#), text)
        XCTAssertTrue(text.utf8.allSatisfy { $0 < 0x80 })
        XCTAssertEqual(LockFileContent(parsing: content.encoded()), content)
        let viaFoundation = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(content.encoded())) as? [String: Any])
        XCTAssertEqual(viaFoundation["holder"] as? String, content.holder)
        XCTAssertEqual(viaFoundation["pid"] as? Int, 1)
    }

    func testHolderForms() {
        let classic = LockHolder("web-1:4242:139872:MainThread")
        XCTAssertEqual(classic.hostName, "web-1")
        XCTAssertEqual(classic.processID, 4242)
        XCTAssertEqual(classic.threadID, 139872)
        XCTAssertEqual(classic.threadName, "MainThread")
        XCTAssertNil(classic.taskID)
        let withTask = LockHolder("web-1:4242:139872:ThreadPoolExecutor-0_0:5b3c")
        XCTAssertEqual(withTask.threadName, "ThreadPoolExecutor-0_0")
        XCTAssertEqual(withTask.taskID, "5b3c")
        for opaque in ["8f14e45f-ceea-467f-a0e6-8d5e1b7f2a11", "a:b:c:d", "host:0:1:T", "", ":1:2:T"] {
            XCTAssertFalse(LockHolder(opaque).hasProcessForm, opaque)
        }
        let current = LockHolder(FileSystemRecordStore.defaultHolder())
        XCTAssertEqual(current.processID, getpid())
        XCTAssertEqual(current.hostName, ProcessIdentity.currentHostName())
    }

    func testLockFileNamesFollowPythonWithSuffix() {
        let cases = [
            "a-1": "a-1.lock", "task.b": "task.lock", "task.c": "task.lock", ".env": ".env.lock",
            "a.": "a..lock", "a.b.c": "a.b.lock", "a..b": "a..lock", "ünï.cødé": "ünï.lock",
            "abc123": "abc123.lock",
        ]
        for (key, lock) in cases {
            XCTAssertEqual(RecordKey.lockFileName(forKey: key), lock, key)
        }
    }

    func testInvalidKeysAreRejectedWithAReason() {
        for key in [
            "", ".", "..", "/etc/passwd", "a/b", "../x", "nul\u{0}byte", "x.lock", String(repeating: "k", count: 300),
        ] {
            XCTAssertThrowsError(try RecordKey.validate(key), key) { error in
                guard case RecordStoreError.invalidKey = error else { return XCTFail("\(error)") }
                XCTAssertTrue("\(error)".hasPrefix("invalid key"))
            }
        }
        XCTAssertNoThrow(try RecordKey.validate("task.b"))
    }

    func testJSONParserHandlesEscapesAndNesting() throws {
        let value = try XCTUnwrap(
            JSONValue.parse(
                Array(#"{"a": [1, 2.5e1, true, false, null], "s": "\u00e9\ud83d\ude00\n\"", "o": {}}"#.utf8)))
        XCTAssertEqual(value["s"], .string("é😀\n\""))
        XCTAssertEqual(value["a"], .array([.number(1), .number(25), .bool(true), .bool(false), .null]))
        XCTAssertNil(JSONValue.parse(Array(String(repeating: "[", count: 10_000).utf8)))
    }
}
