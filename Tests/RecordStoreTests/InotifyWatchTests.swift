import Foundation
import LocktopTestSupport
import XCTest

@testable import RecordStore

/// A rename's two inotify events, read together even when a read comes between them.
final class InotifyWatchTests: XCTestCase {
    func event(_ mask: UInt32, cookie: UInt32, _ name: String) -> InotifyEvent {
        InotifyEvent(watch: 1, mask: mask, cookie: cookie, name: Array(name.utf8))
    }

    func testARenameIsUnpairedUntilItsMovedToIsRead() {
        let from = event(InotifyWatch.movedFrom, cookie: 7, "k.lock")
        let to = event(InotifyWatch.movedTo, cookie: 7, ".locktop-1-ab.break")
        XCTAssertTrue(InotifyWatch.hasUnpairedRename([from]), "the read came between the two halves")
        XCTAssertFalse(InotifyWatch.hasUnpairedRename([from, to]))
        XCTAssertTrue(InotifyWatch.hasUnpairedRename([from, to, event(InotifyWatch.movedFrom, cookie: 8, "j.lock")]))
        XCTAssertFalse(InotifyWatch.hasUnpairedRename([event(InotifyWatch.deleted, cookie: 0, "k.lock")]))
    }

    func testARenameWithinTheDirectoryIsReadAsAPairAndOneOutOfItCostsOneShortWait() throws {
        let root = TestSupport.temporaryDirectory(for: self)
        let watched = "\(root)/watched"
        try FileManager.default.createDirectory(atPath: watched, withIntermediateDirectories: true)
        let watch = try InotifyWatch()
        try watch.add(directory: try DirectoryHandle.open(watched), mask: InotifyWatch.directoryChanges)
        FileManager.default.createFile(atPath: "\(watched)/k.lock", contents: Data("{}".utf8))
        _ = watch.readEvents()

        XCTAssertEqual(rename("\(watched)/k.lock", "\(watched)/.locktop-1-ab.break"), 0)
        let pair = watch.readEventsPairingRenames()
        XCTAssertEqual(pair.map { String(decoding: $0.name, as: UTF8.self) }, ["k.lock", ".locktop-1-ab.break"])

        XCTAssertEqual(rename("\(watched)/.locktop-1-ab.break", "\(root)/elsewhere"), 0)
        let started = MonotonicClock.seconds()
        let away = watch.readEventsPairingRenames(within: 0.05)
        let waited = MonotonicClock.seconds() - started
        XCTAssertEqual(away.count, 1, "\(away)")
        XCTAssertTrue(away.first?.has(InotifyWatch.movedFrom) == true)
        XCTAssertGreaterThanOrEqual(waited, 0.04, "it waited for a half that never comes")
        XCTAssertLessThan(waited, 1, "once, and briefly")
    }
}
