import Foundation
import RecordStore

#if canImport(Glibc)
    import Glibc
#endif

/// The names a scan found in the records directory, not yet in a ``RecordTable``. Listing a
/// million names takes a fraction of the time it takes to index and stat them, so the dashboard
/// shows the locks first and builds the table on another thread (``RecordTableLoader``).
public struct RecordListing: Sendable {
    /// How the table learns each record's size and time.
    public enum Statuses: Sendable {
        /// From the listing, which statted every name.
        case listed
        /// Left pending, for polling's budgeted slices: on a remote filesystem a `stat` is a round
        /// trip. Names that are not plain ASCII are statted at once (they are few, and slices skip
        /// escaped names).
        case pending
        /// Statted now, one name after another.
        case read
    }

    /// The records directory.
    public let directory: DirectoryHandle
    let listing: DirectoryListing.Raw
    /// How many names are neither lock files nor locktop's own: the records, give or take a
    /// subdirectory.
    public let count: Int

    /// One listed record as ``forEachRecord(in:_:_:)`` hands it out.
    struct Record {
        /// The name's bytes.
        var raw: UnsafeBufferPointer<UInt8>
        /// The key as text and whether it was escaped; nil for a plain ASCII name, whose text is its bytes.
        var text: (key: String, isEscaped: Bool)?
        /// Its status; nil while pending.
        var status: FileSystem.Status?
    }

    /// The table of the listed records: lock files, locktop's own names and directories left out.
    public func table(_ statuses: Statuses) -> RecordTable {
        var table = RecordTable(capacity: count)
        forEachRecord(in: 0..<listing.count, statuses) { record in
            let status = record.status
            if let (key, escaped) = record.text {
                guard let status else { return }
                table.set(
                    RecordEntry(
                        key: key, size: status.size, modified: Date(timeIntervalSince1970: status.modified),
                        nameIsEscaped: escaped, isSymbolicLink: status.isSymbolicLink))
            } else if let status {
                table.set(
                    key: record.raw, size: status.size, modified: status.modified,
                    isSymbolicLink: status.isSymbolicLink, isNew: true)
            } else {
                table.set(key: record.raw, size: 0, modified: 0, isPending: true, isNew: true)
            }
        }
        return table
    }

    /// The keys of the listed records that map to each of `lockNames`, sorted: what `list --json`
    /// says of each lock, found in one pass without building a table. Costs a hash of each record's
    /// lock stem, and a string only for the keys that match.
    public func keys(forLocks lockNames: some Sequence<String>) -> [String: [String]] {
        var stems: [Int: [(stem: [UInt8], lockName: String)]] = [:]
        for name in lockNames {
            guard let stem = RecordKey.lockStem(ofFileName: name) else { continue }
            let bytes = Array(stem.utf8)
            bytes.withUnsafeBufferPointer { stems[RecordTable.hash($0), default: []].append((bytes, name)) }
        }
        var found: [String: [String]] = [:]
        guard !stems.isEmpty else { return found }
        let names = Set(stems.values.joined().map(\.lockName))
        forEachRecord(in: 0..<listing.count, .listed) { record in
            if let (key, _) = record.text {
                let lockName = RecordKey.lockFileName(forKey: key)
                if names.contains(lockName) { found[lockName, default: []].append(key) }
                return
            }
            let stem = UnsafeBufferPointer(rebasing: record.raw[..<RecordKey.stemLength(ofKey: record.raw)])
            guard let match = stems[RecordTable.hash(stem)]?.first(where: { $0.stem.elementsEqual(stem) }) else {
                return
            }
            found[match.lockName, default: []].append(String(decoding: record.raw, as: UTF8.self))
        }
        return found.mapValues { $0.sorted() }
    }

    /// Writes the JSON object of every listed record (``listing`` statted), in directory order,
    /// each but the first preceded by `,\n`: encoded in chunks on two threads and handed to
    /// `write` in order, a few chunks at a time, so a million records never sit in memory as one
    /// document. With `includeSummaries`, each record's file is read and summarised.
    public func writeJSON(includeSummaries: Bool, to write: ([UInt8]) -> Void) {
        let chunkSize = 4096
        let chunks = (listing.count + chunkSize - 1) / chunkSize
        var isFirst = true
        for batch in stride(from: 0, to: chunks, by: 8) {
            let encoded = ParallelMap.map(min(8, chunks - batch), threshold: 2) { offset in
                let start = (batch + offset) * chunkSize
                var output: [UInt8] = []
                output.reserveCapacity(chunkSize * 130)
                forEachRecord(in: start..<min(listing.count, start + chunkSize), .listed) { record in
                    output.append(contentsOf: [0x2C, 0x0A])
                    appendJSON(of: record, includingSummary: includeSummaries, to: &output)
                }
                return output
            }
            for chunk in encoded where !chunk.isEmpty {
                write(isFirst ? Array(chunk.dropFirst()) : chunk)
                isFirst = false
            }
        }
    }

    /// Appends one record's JSON object, byte by byte: this runs a million times for a large directory.
    private func appendJSON(of record: Record, includingSummary: Bool, to output: inout [UInt8]) {
        let status = record.status!
        let key = record.text?.key
        output.append(contentsOf: Self.keyPrefix)
        if let key {
            JSONValue.encodeString(key, into: &output)
        } else {
            Self.appendPlainString(record.raw, to: &output)
        }
        output.append(contentsOf: Self.sizePrefix)
        output.append(contentsOf: String(status.size).utf8)
        output.append(contentsOf: Self.modifiedPrefix)
        PrefectTimestamp.append(Date(timeIntervalSince1970: status.modified), to: &output, separator: "T")
        output.append(contentsOf: Self.lockPrefix)
        if let key {
            JSONValue.encodeString(RecordKey.lockFileName(forKey: key), into: &output)
        } else {
            Self.appendPlainString(
                UnsafeBufferPointer(rebasing: record.raw[..<RecordKey.stemLength(ofKey: record.raw)]), to: &output,
                suffix: ".lock")
        }
        if status.isSymbolicLink { output.append(contentsOf: Array(", \"symlink\": true".utf8)) }
        if record.text?.isEscaped == true { output.append(contentsOf: Array(", \"name_escaped\": true".utf8)) }
        if includingSummary, !status.isSymbolicLink, record.text?.isEscaped != true,
            let summary = RecordSummary.load(key ?? String(decoding: record.raw, as: UTF8.self), in: directory)
        {
            output.append(contentsOf: Array(", \"summary\": ".utf8))
            summary.json.encode(into: &output)
        }
        output.append(UInt8(ascii: "}"))
    }

    /// A JSON string of plain ASCII bytes (``DirectoryListing/isPlain(_:)``: no control character
    /// and no backslash), where only `"` needs escaping.
    private static func appendPlainString(
        _ bytes: UnsafeBufferPointer<UInt8>, to output: inout [UInt8], suffix: String = ""
    ) {
        output.append(UInt8(ascii: "\""))
        for byte in bytes {
            if byte == UInt8(ascii: "\"") { output.append(0x5C) }
            output.append(byte)
        }
        output.append(contentsOf: suffix.utf8)
        output.append(UInt8(ascii: "\""))
    }

    private static let keyPrefix = Array("{\"key\": ".utf8)
    private static let sizePrefix = Array(", \"size\": ".utf8)
    private static let modifiedPrefix = Array(", \"modified\": \"".utf8)
    private static let lockPrefix = Array("\", \"lock_file\": ".utf8)

    /// Calls `body` with each record among the names in `range`, in directory order: lock files,
    /// locktop's own names, directories and names gone since the listing left out. Plain ASCII
    /// names come as bytes only; other names with their text. Statuses come as `statuses` says.
    private func forEachRecord(in range: Range<Int>, _ statuses: Statuses, _ body: (Record) -> Void) {
        let descriptor = directory.descriptor.rawValue
        func status(_ index: Int, _ name: UnsafeBufferPointer<UInt8>) -> FileSystem.Status? {
            if case .listed = statuses { return listing.statuses[index] }
            return DirectoryListing.status(of: name, in: descriptor)
        }
        for index in range {
            listing.withName(index) { raw in
                guard !DirectoryNames.isPrivate(raw), !RecordKey.isLockFileName(raw) else { return }
                let isPlain = DirectoryListing.isPlain(raw)
                if isPlain, case .pending = statuses {
                    body(Record(raw: raw, text: nil, status: nil))
                    return
                }
                guard let found = status(index, raw), !found.isDirectory else { return }
                body(Record(raw: raw, text: isPlain ? nil : DirectoryListing.displayName(raw), status: found))
            }
        }
    }
}
