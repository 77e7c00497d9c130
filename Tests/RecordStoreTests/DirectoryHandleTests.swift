import Foundation
import LocktopTestSupport
import RecordStore
import Synchronization
import SystemPackage
import XCTest

/// Signals the interruption test counts; written by the handler, read by the test.
private let interruptions = Atomic<Int>(0)

/// A directory opened once is where every operation lands, whatever its path leads to later, and
/// the system-call layer reports each error it cannot retry.
final class DirectoryHandleTests: XCTestCase {
    var directory = ""

    override func setUp() {
        directory = TestSupport.temporaryDirectory(for: self)
    }

    func testOperationsReachTheDirectoryOpenedAfterItsPathIsSwappedForALink() throws {
        let records = "\(directory)/records"
        let elsewhere = "\(directory)/elsewhere"
        for path in [records, elsewhere] {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        }
        try Data("theirs".utf8).write(to: URL(fileURLWithPath: "\(elsewhere)/important.lock"))
        let handle = try DirectoryHandle.open(records)
        XCTAssertNil(handle.replacement(), "the path still leads to the directory opened")
        // Swapped for a link to another directory, as another uid may do in a shared tree.
        XCTAssertEqual(rename(records, "\(directory)/records.old"), 0)
        XCTAssertEqual(symlink(elsewhere, records), 0)
        let replacement = try XCTUnwrap(handle.replacement())
        XCTAssertTrue(replacement.isSymbolicLink)
        XCTAssertEqual(replacement.old, handle.key)
        XCTAssertNotEqual(replacement.new, handle.key)
        XCTAssertTrue(replacement.description.contains("a symbolic link"), replacement.description)
        XCTAssertNotNil(try LockFiles.create("new.lock", in: handle, bytes: Array("mine".utf8)))
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(directory)/records.old/new.lock"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(elsewhere)/new.lock"), "nothing made elsewhere")
        XCTAssertNil(try handle.status(of: "important.lock"), "the other directory's lock is not seen")
        XCTAssertFalse(try handle.removeName("important.lock"))
        XCTAssertEqual(try String(contentsOfFile: "\(elsewhere)/important.lock", encoding: .utf8), "theirs")
        XCTAssertThrowsError(try DirectoryHandle.open(records)) { error in
            XCTAssertEqual(error as? RecordStoreError, .symbolicLink(path: records), "a link is never opened")
        }
    }

    func testAParentSwappedShowsAsAReplacement() throws {
        let parent = "\(directory)/shared"
        try FileManager.default.createDirectory(atPath: "\(parent)/records", withIntermediateDirectories: true)
        let handle = try DirectoryHandle.open("\(parent)/records")
        XCTAssertEqual(rename(parent, "\(directory)/shared.old"), 0)
        try FileManager.default.createDirectory(atPath: "\(parent)/records", withIntermediateDirectories: true)
        let replacement = try XCTUnwrap(handle.replacement())
        XCTAssertFalse(replacement.isSymbolicLink)
        XCTAssertNotNil(replacement.new)
        XCTAssertTrue(replacement.description.contains("it was directory \(handle.key)"), replacement.description)
        XCTAssertEqual(rmdir("\(parent)/records"), 0)
        XCTAssertNil(handle.replacement()?.new, "nothing there now")
    }

    func testEntryNamesCannotLeaveTheDirectory() throws {
        let handle = try DirectoryHandle.open(directory)
        for name in ["", ".", "..", "../escape.lock", "a/b.lock"] {
            XCTAssertThrowsError(try handle.createExclusive(name, bytes: []), "\"\(name)\"") { error in
                guard case .system(_, _, EINVAL)? = error as? RecordStoreError else {
                    return XCTFail("\"\(name)\": \(error)")
                }
            }
            XCTAssertThrowsError(try handle.rename("x", to: name), "\"\(name)\"")
        }
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: (directory as NSString).deletingLastPathComponent + "/escape.lock"))
    }

    func testANameTakenIsNeverReplacedAndAMissingSourceIsReported() throws {
        let handle = try DirectoryHandle.open(directory)
        try FileManager.default.createDirectory(
            atPath: "\(directory)/.locktop-taken.break", withIntermediateDirectories: false)
        FileManager.default.createFile(atPath: "\(directory)/k.lock", contents: Data("x".utf8))
        FileManager.default.createFile(atPath: "\(directory)/other", contents: Data("y".utf8))
        XCTAssertEqual(try handle.rename("k.lock", to: ".locktop-taken.break", mode: .withoutReplacing), .targetTaken)
        XCTAssertEqual(try handle.rename("k.lock", to: "other", mode: .withoutReplacing), .targetTaken)
        XCTAssertEqual(try String(contentsOfFile: "\(directory)/other", encoding: .utf8), "y")
        XCTAssertEqual(try handle.rename("k.lock", to: "free", mode: .withoutReplacing), .renamed)
        XCTAssertEqual(try handle.rename("k.lock", to: "free2", mode: .withoutReplacing), .sourceMissing, "ENOENT")
        XCTAssertFalse(try handle.removeName("k.lock"), "ENOENT: already gone")
        XCTAssertNil(try handle.status(of: "k.lock"))
        XCTAssertNil(try handle.readFile("k.lock", limit: 10))
    }

    func testADirectoryWhereAFileIsExpectedFailsWithEISDIR() throws {
        let handle = try DirectoryHandle.open(directory)
        try FileManager.default.createDirectory(atPath: "\(directory)/x.lock", withIntermediateDirectories: false)
        XCTAssertThrowsError(try handle.readFile("x.lock", limit: 100)) { error in
            XCTAssertEqual(
                error as? RecordStoreError, .system(operation: "read", path: "\(directory)/x.lock", errno: EISDIR))
        }
        FileManager.default.createFile(atPath: "\(directory)/f", contents: Data("f".utf8))
        FileManager.default.createFile(atPath: "\(directory)/x.lock/inside", contents: Data())
        XCTAssertThrowsError(try handle.rename("f", to: "x.lock")) { error in
            XCTAssertEqual(
                error as? RecordStoreError, .system(operation: "rename", path: "\(directory)/f", errno: EISDIR))
        }
        XCTAssertThrowsError(try handle.removeName("x.lock"), "unlinkat never removes a directory")
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(directory)/x.lock/inside"))
    }

    func testADirectoryRemovedUnderTheHandleCreatesNothingAnywhere() throws {
        let records = "\(directory)/records"
        try FileManager.default.createDirectory(atPath: records, withIntermediateDirectories: false)
        let store = FileSystemRecordStore(recordsDirectory: URL(fileURLWithPath: records))
        XCTAssertTrue(try store.acquireLock(key: "a", holder: "h"))
        try store.releaseLock(key: "a", holder: "h")
        try FileManager.default.removeItem(atPath: records)
        try FileManager.default.createDirectory(atPath: records, withIntermediateDirectories: false)
        XCTAssertThrowsError(try store.acquireLock(key: "b", holder: "h", acquireTimeout: 0)) { error in
            guard case .directoryReplaced(let replacement)? = error as? RecordStoreError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(replacement.path, records)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: records), [], "nothing made in the new one")
    }

    func testTheCallLayerRetriesInterruptionsAndReportsACrossDeviceRename() throws {
        // EINTR: a read blocked on an empty pipe, interrupted by signals whose handler does not
        // ask for restarts, goes on until the data comes.
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in interruptions.add(1, ordering: .relaxed) }
        action.sa_flags = 0
        var previous = sigaction()
        XCTAssertEqual(sigaction(SIGUSR2, &action, &previous), 0)
        defer { sigaction(SIGUSR2, &previous, nil) }
        var pair: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&pair), 0)
        let ends = pair
        defer { for end in ends { close(end) } }
        let reader = pthread_self()
        let writer = Thread {
            for _ in 0..<20 {
                pthread_kill(reader, SIGUSR2)
                usleep(5_000)
            }
            var byte: UInt8 = 42
            _ = write(ends[1], &byte, 1)
        }
        writer.start()
        var byte: UInt8 = 0
        let result = FileSystem.call { Int32(read(ends[0], &byte, 1)) }
        XCTAssertEqual(try result.get(), 1)
        XCTAssertEqual(byte, 42)
        XCTAssertGreaterThan(interruptions.load(ordering: .relaxed), 0, "the read was interrupted, and retried")
        // EXDEV: a rename from one filesystem to another is reported, never taken for success.
        let memory = "/dev/shm/locktop-test-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        XCTAssertEqual(mkdir(memory, 0o700), 0)
        defer { try? FileManager.default.removeItem(atPath: memory) }
        FileManager.default.createFile(atPath: "\(directory)/file", contents: Data())
        let from = try DirectoryHandle.open(directory)
        let to = try DirectoryHandle.open(memory)
        let crossed = FileSystem.call {
            renameat(from.descriptor.rawValue, "file", to.descriptor.rawValue, "file")
        }
        XCTAssertEqual(crossed, .failure(.improperLink))
        XCTAssertEqual(
            FileSystem.error("rename", "\(directory)/file", Errno.improperLink.rawValue),
            .system(operation: "rename", path: "\(directory)/file", errno: EXDEV))
    }
}
