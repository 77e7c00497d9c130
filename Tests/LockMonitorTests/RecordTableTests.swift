import Foundation
import XCTest
@testable import LockMonitor
@testable import RecordStore

/// The packed record table against a dictionary doing the same work.
final class RecordTableTests: XCTestCase {
    func testSharedLockFilesAndEdgeCasesOfThePythonSuffixRule() {
        var table = RecordTable()
        for key in ["task.b", "task.c", "task", "a-1", ".env", "trailing.", "a.b.c"] {
            table.set(RecordEntry(key: key, size: key.count, modified: Date(timeIntervalSince1970: 10)))
        }
        XCTAssertEqual(table.recordKeys(forLock: "task.lock"), ["task", "task.b", "task.c"])
        XCTAssertTrue(table.isShared("task.lock"))
        XCTAssertEqual(table.recordKeys(forLock: "a-1.lock"), ["a-1"])
        XCTAssertFalse(table.isShared("a-1.lock"))
        XCTAssertEqual(table.recordKeys(forLock: ".env.lock"), [".env"])
        XCTAssertEqual(table.recordKeys(forLock: "trailing..lock"), ["trailing."])
        XCTAssertEqual(table.recordKeys(forLock: "a.b.lock"), ["a.b.c"])
        XCTAssertEqual(table.recordKeys(forLock: "nothing.lock"), [])
        for key in table.keys { XCTAssertEqual(table.recordKeys(forLock: RecordKey.lockFileName(forKey: key)).contains(key), true) }
        XCTAssertTrue(table.remove(key: "task"))
        XCTAssertFalse(table.remove(key: "task"))
        XCTAssertEqual(table.recordKeys(forLock: "task.lock"), ["task.b", "task.c"])
        XCTAssertEqual(table["task.b"]?.size, 6)
        XCTAssertNil(table["task"])
        XCTAssertFalse(table.set(RecordEntry(key: "a-1", size: 3, modified: Date(timeIntervalSince1970: 10))), "unchanged")
        XCTAssertTrue(table.set(RecordEntry(key: "a-1", size: 4, modified: Date(timeIntervalSince1970: 10), isSymbolicLink: true)))
        XCTAssertEqual(table["a-1"], RecordEntry(key: "a-1", size: 4, modified: Date(timeIntervalSince1970: 10), isSymbolicLink: true))
        XCTAssertEqual(table.count, 6)
    }

    func testRandomInsertsAndRemovalsAgreeWithADictionary() {
        var generator = SystemRandomNumberGenerator()
        var table = RecordTable()
        var reference: [String: RecordEntry] = [:]
        for step in 0..<60_000 {
            let key = "k\(Int.random(in: 0..<3_000, using: &generator)).\(["a", "b", "c", "lockless"].randomElement(using: &generator)!)"
            if Bool.random(using: &generator) || step < 5_000 {
                let entry = RecordEntry(key: key, size: step, modified: Date(timeIntervalSince1970: Double(step)))
                table.set(entry)
                reference[key] = entry
            } else {
                XCTAssertEqual(table.remove(key: key), reference.removeValue(forKey: key) != nil)
            }
        }
        XCTAssertEqual(table.count, reference.count)
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: table.map { ($0.key, $0) }), reference)
        var byLock: [String: [String]] = [:]
        for key in reference.keys { byLock[RecordKey.lockFileName(forKey: key), default: []].append(key) }
        for index in 0..<3_000 {
            let name = "k\(index).lock"
            XCTAssertEqual(table.recordKeys(forLock: name), (byLock[name] ?? []).sorted())
            XCTAssertEqual(table.isShared(name), (byLock[name]?.count ?? 0) > 1)
        }
    }
}
