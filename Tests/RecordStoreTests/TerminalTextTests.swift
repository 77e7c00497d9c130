import RecordStore
import XCTest

final class TerminalTextTests: XCTestCase {
    /// The 65 code points a terminal may act on: C0, DEL and C1.
    let controls: [UInt32] = Array(0x00...0x1F) + [0x7F] + Array(0x80...0x9F)

    func testEveryC0AndC1ControlIsEscapedAndNothingElse() {
        XCTAssertEqual(controls.count, 65)
        for value in controls {
            let scalar = Unicode.Scalar(value)!
            let escaped = TerminalText.escaped("a\(Character(scalar))b")
            XCTAssertFalse(escaped.unicodeScalars.contains { controls.contains($0.value) }, String(value, radix: 16))
            let expected = value < 0x80 ? String(format: "\\x%02X", value) : String(format: "\\u%04X", value)
            XCTAssertEqual(escaped, "a\(expected)b")
            XCTAssertEqual(TerminalText.escaped(bytes: Array("a\(Character(scalar))b".utf8)), "a\(expected)b")
        }
        for plain in ["held", "web-1:4242:139872:MainThread", "naïve ✓ 日本", #"{"holder": "a\\b"}"#, " ~!@#"] {
            XCTAssertEqual(TerminalText.escaped(plain), plain)
        }
    }

    func testATitleAndClearScreenAttackBecomesText() {
        let holder = "\u{1b}]2;PWNED\u{07}\u{1b}[2J"
        XCTAssertEqual(TerminalText.escaped(holder), #"\x1B]2;PWNED\x07\x1B[2J"#)
        XCTAssertEqual(TerminalText.escaped("\u{9b}31m"), #"\u009B31m"#, "a lone C1 CSI")
        XCTAssertEqual(TerminalText.escaped("abc\u{202E}txt.exe"), #"abc\u202Etxt.exe"#, "a bidirectional override")
    }

    func testMarksSeparatorsAndInvisibleCharactersAreEscapedToo() {
        let hidden: [UInt32] = [
            0x200E, 0x200F, 0x061C, 0x2028, 0x2029, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x2066, 0x2069,
        ]
        for value in hidden {
            let scalar = Unicode.Scalar(value)!
            XCTAssertEqual(TerminalText.escaped("a\(Character(scalar))b"), String(format: "a\\u%04Xb", value))
            XCTAssertEqual(
                TerminalText.escaped(bytes: Array("a\(Character(scalar))b".utf8)), String(format: "a\\u%04Xb", value))
        }
        XCTAssertEqual(TerminalText.escaped("stale\u{200B}"), #"stale\u200B"#, "a key that only looks like another")
        XCTAssertEqual(TerminalText.escaped("a\u{200A}b"), "a\u{200A}b", "a hair space is visible: kept")
    }

    func testInvalidUtf8IsEscapedByteByByte() {
        XCTAssertEqual(TerminalText.escaped(bytes: [0x61, 0xFF, 0xC3, 0x28, 0xE2, 0x82]), #"a\xFF\xC3(\xE2\x82"#)
        XCTAssertEqual(TerminalText.escaped(bytes: Array("é".utf8)), "é")
        XCTAssertEqual(TerminalText.escaped(bytes: Array(#"a\b"#.utf8), escapingBackslash: true), #"a\x5Cb"#)
        XCTAssertFalse(TerminalText.isPlain(bytes: [0xFF]))
        XCTAssertTrue(TerminalText.isPlain(bytes: Array("plain".utf8)))
    }
}
