import Foundation
import RecordStore

/// The records of a directory, packed so that a million cost tens of MiB: names back to back in
/// one byte buffer, fixed-size fields in parallel arrays, and two open-addressing indexes of 32-bit
/// slots, one by key and one by the lock file a key maps to (Python's `with_suffix(".lock")` stem),
/// whose records are chained. About 50 bytes a record plus its name, against some 200 for a
/// dictionary of entries with their own strings.
public struct RecordTable: Sendable, Sequence {
    private var nameBytes: [UInt8] = []
    private var nameStarts: [UInt32] = []
    private var nameLengths: [UInt16] = []
    private var stemLengths: [UInt16] = []
    private var sizes: [Int64] = []
    private var modifiedTimes: [Double] = []
    private var flags: [UInt8] = []
    /// The next record of the same lock file, or -1.
    private var nextOfLock: [Int32] = []
    /// Slots by key hash: a record slot, `empty` or `removed`.
    private var byKey: [Int32] = []
    /// The first record of each lock file's chain, by stem hash.
    private var byLock: [Int32] = []
    /// How many records there are.
    public private(set) var count = 0
    /// How many of them have a name that is not UTF-8 text and was escaped.
    public private(set) var escapedCount = 0

    private static let empty: Int32 = -1
    private static let removed: Int32 = -2
    private static let escapedFlag: UInt8 = 1
    private static let symbolicLinkFlag: UInt8 = 2
    private static let goneFlag: UInt8 = 4
    private static let pendingFlag: UInt8 = 8

    /// An empty table with room for `capacity` records.
    public init(capacity: Int = 0) {
        reserveCapacity(capacity)
    }

    /// Makes room for `capacity` records without growing.
    public mutating func reserveCapacity(_ capacity: Int) {
        nameStarts.reserveCapacity(capacity)
        nameLengths.reserveCapacity(capacity)
        stemLengths.reserveCapacity(capacity)
        sizes.reserveCapacity(capacity)
        modifiedTimes.reserveCapacity(capacity)
        flags.reserveCapacity(capacity)
        nextOfLock.reserveCapacity(capacity)
        nameBytes.reserveCapacity(capacity * 24)
        if Self.tableSize(for: capacity) > byKey.count { rebuildIndexes(size: Self.tableSize(for: capacity)) }
    }

    /// The record `key`, nil when there is none.
    public subscript(key: String) -> RecordEntry? {
        var key = key
        return key.withUTF8 { find($0) }.map(entry(at:))
    }

    /// Stores or replaces `record`; returns whether the table changed.
    @discardableResult
    public mutating func set(_ record: RecordEntry) -> Bool {
        var key = record.key
        return key.withUTF8 {
            set(
                key: $0, size: record.size, modified: record.modified.timeIntervalSince1970,
                isEscaped: record.nameIsEscaped, isSymbolicLink: record.isSymbolicLink, isPending: record.isPending)
        }
    }

    /// Stores or replaces the record whose key is the UTF-8 `key`, without making a string of it:
    /// what a scan of a million names calls. Returns whether the table changed. `isNew` skips the
    /// lookup, for a scan, whose names are unique.
    @discardableResult
    public mutating func set(
        key: UnsafeBufferPointer<UInt8>, size: Int, modified: TimeInterval, isEscaped: Bool = false,
        isSymbolicLink: Bool = false, isPending: Bool = false, isNew: Bool = false
    ) -> Bool {
        let flags =
            (isEscaped ? Self.escapedFlag : 0) | (isSymbolicLink ? Self.symbolicLinkFlag : 0)
            | (isPending ? Self.pendingFlag : 0)
        let size = Int64(size)
        if !isNew, let slot = find(key) {
            guard sizes[slot] != size || modifiedTimes[slot] != modified || self.flags[slot] != flags else {
                return false
            }
            (sizes[slot], modifiedTimes[slot], self.flags[slot]) = (size, modified, flags)
            return true
        }
        if 2 * (nameStarts.count + 1) > byKey.count { rebuildIndexes(size: Self.tableSize(for: 2 * count + 16)) }
        let slot = nameStarts.count
        nameStarts.append(UInt32(nameBytes.count))
        nameLengths.append(UInt16(key.count))
        stemLengths.append(UInt16(RecordKey.stemLength(ofKey: key)))
        nameBytes.append(contentsOf: key)
        sizes.append(size)
        modifiedTimes.append(modified)
        self.flags.append(flags)
        nextOfLock.append(Self.empty)
        count += 1
        if isEscaped { escapedCount += 1 }
        index(slot)
        return true
    }

    /// Removes the record `key`; returns whether it was there.
    @discardableResult
    public mutating func remove(key: String) -> Bool {
        var key = key
        guard let slot = key.withUTF8({ find($0) }) else { return false }
        unlinkFromLock(slot)
        withName(slot) { name in
            var position = Self.hash(name) & (byKey.count - 1)
            while byKey[position] != Int32(slot) { position = (position + 1) & (byKey.count - 1) }
            byKey[position] = Self.removed
        }
        if flags[slot] & Self.escapedFlag != 0 { escapedCount -= 1 }
        flags[slot] |= Self.goneFlag
        count -= 1
        if nameStarts.count > 2 * count + 1024 { compact() }
        return true
    }

    /// The keys of the records that map to the lock file `lockName`, sorted.
    public func recordKeys(forLock lockName: String) -> [String] {
        var keys: [String] = []
        var slot = firstOfLock(lockName)
        while slot >= 0 {
            keys.append(key(at: Int(slot)))
            slot = nextOfLock[Int(slot)]
        }
        return keys.sorted()
    }

    /// Whether more than one record maps to the lock file `lockName`.
    public func isShared(_ lockName: String) -> Bool {
        let first = firstOfLock(lockName)
        return first >= 0 && nextOfLock[Int(first)] >= 0
    }

    /// Every record, in no particular order.
    public func makeIterator() -> AnyIterator<RecordEntry> {
        var slot = 0
        return AnyIterator {
            while slot < nameStarts.count {
                defer { slot += 1 }
                if flags[slot] & Self.goneFlag == 0 { return entry(at: slot) }
            }
            return nil
        }
    }

    /// The keys, in no particular order.
    public var keys: [String] { map(\.key) }

    /// The first `limit` keys in byte order among the records whose lock file is not one of
    /// `lockNames`, and how many such records there are: one pass over the table, a string only
    /// for the keys returned.
    public func firstKeys(limit: Int, withoutLockIn lockNames: some Sequence<String>) -> (keys: [String], count: Int) {
        var locked = Set<Int32>()
        for name in lockNames {
            var slot = firstOfLock(name)
            while slot >= 0 {
                locked.insert(slot)
                slot = nextOfLock[Int(slot)]
            }
        }
        return nameBytes.withUnsafeBufferPointer { bytes in
            func name(_ slot: Int32) -> UnsafeBufferPointer<UInt8> {
                let start = Int(nameStarts[Int(slot)])
                return UnsafeBufferPointer(rebasing: bytes[start..<start + Int(nameLengths[Int(slot)])])
            }
            func precedes(_ lhs: Int32, _ rhs: Int32) -> Bool { name(lhs).lexicographicallyPrecedes(name(rhs)) }
            var kept: [Int32] = []
            var bound: Int32?
            for slot in nameStarts.indices where flags[slot] & Self.goneFlag == 0 && !locked.contains(Int32(slot)) {
                // Past the `limit`-th key seen so far, a key can no longer be among the first.
                if let bound, !precedes(Int32(slot), bound) { continue }
                kept.append(Int32(slot))
                if kept.count >= 2 * limit {
                    kept.sort(by: precedes)
                    kept.removeLast(kept.count - limit)
                    bound = kept.last
                }
            }
            kept.sort(by: precedes)
            return (kept.prefix(limit).map { key(at: Int($0)) }, count - locked.count)
        }
    }

    // MARK: Internals

    private func entry(at slot: Int) -> RecordEntry {
        RecordEntry(
            key: key(at: slot), size: Int(sizes[slot]), modified: Date(timeIntervalSince1970: modifiedTimes[slot]),
            nameIsEscaped: flags[slot] & Self.escapedFlag != 0,
            isSymbolicLink: flags[slot] & Self.symbolicLinkFlag != 0,
            isPending: flags[slot] & Self.pendingFlag != 0)
    }

    private func key(at slot: Int) -> String {
        withName(slot) { String(decoding: $0, as: UTF8.self) }
    }

    private func withName<Result>(_ slot: Int, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        nameBytes.withUnsafeBufferPointer { all in
            let start = Int(nameStarts[slot])
            return body(UnsafeBufferPointer(rebasing: all[start..<start + Int(nameLengths[slot])]))
        }
    }

    private func find(_ name: UnsafeBufferPointer<UInt8>) -> Int? {
        guard !byKey.isEmpty else { return nil }
        var position = Self.hash(name) & (byKey.count - 1)
        while true {
            let slot = byKey[position]
            if slot == Self.empty { return nil }
            if slot >= 0, withName(Int(slot), { $0.elementsEqual(name) }) { return Int(slot) }
            position = (position + 1) & (byKey.count - 1)
        }
    }

    /// The first record of the lock file `lockName`'s chain, or -1.
    private func firstOfLock(_ lockName: String) -> Int32 {
        guard let stem = RecordKey.lockStem(ofFileName: lockName), !byLock.isEmpty else { return Self.empty }
        var stemText = stem
        return stemText.withUTF8 { stem in
            var position = Self.hash(stem) & (byLock.count - 1)
            while true {
                let slot = byLock[position]
                if slot == Self.empty { return Self.empty }
                if slot >= 0, self.stem(of: Int(slot), equals: stem) { return slot }
                position = (position + 1) & (byLock.count - 1)
            }
        }
    }

    private func stem(of slot: Int, equals stem: UnsafeBufferPointer<UInt8>) -> Bool {
        withName(slot) { name in
            Int(stemLengths[slot]) == stem.count
                && UnsafeBufferPointer(rebasing: name[..<stem.count]).elementsEqual(stem)
        }
    }

    /// Adds `slot` to both indexes.
    private mutating func index(_ slot: Int) {
        let (keyHash, stemHash) = withName(slot) { name in
            (Self.hash(name), Self.hash(UnsafeBufferPointer(rebasing: name[..<Int(stemLengths[slot])])))
        }
        var position = Int(keyHash) & (byKey.count - 1)
        while byKey[position] >= 0 { position = (position + 1) & (byKey.count - 1) }
        byKey[position] = Int32(slot)
        position = Int(stemHash) & (byLock.count - 1)
        var firstFree: Int?
        while byLock[position] != Self.empty {
            let head = byLock[position]
            if head >= 0, sameStem(Int(head), slot) {
                nextOfLock[slot] = head
                byLock[position] = Int32(slot)
                return
            }
            if head == Self.removed, firstFree == nil { firstFree = position }
            position = (position + 1) & (byLock.count - 1)
        }
        byLock[firstFree ?? position] = Int32(slot)
    }

    private func sameStem(_ first: Int, _ second: Int) -> Bool {
        withName(second) { name in
            stem(of: first, equals: UnsafeBufferPointer(rebasing: name[..<Int(stemLengths[second])]))
        }
    }

    /// Takes `slot` out of its lock file's chain.
    private mutating func unlinkFromLock(_ slot: Int) {
        let stemHash = withName(slot) { Self.hash(UnsafeBufferPointer(rebasing: $0[..<Int(stemLengths[slot])])) }
        var position = Int(stemHash) & (byLock.count - 1)
        while true {
            let head = byLock[position]
            if head >= 0, sameStem(Int(head), slot) { break }
            position = (position + 1) & (byLock.count - 1)
        }
        let head = Int(byLock[position])
        if head == slot {
            let next = nextOfLock[slot]
            byLock[position] = next >= 0 ? next : Self.removed
            return
        }
        var previous = head
        while nextOfLock[previous] != Int32(slot) { previous = Int(nextOfLock[previous]) }
        nextOfLock[previous] = nextOfLock[slot]
    }

    /// Drops the slots of removed records and rebuilds the indexes.
    private mutating func compact() {
        var table = RecordTable(capacity: count)
        for record in self { table.set(record) }
        self = table
    }

    private mutating func rebuildIndexes(size: Int) {
        byKey = [Int32](repeating: Self.empty, count: size)
        byLock = [Int32](repeating: Self.empty, count: size)
        for slot in nameStarts.indices where flags[slot] & Self.goneFlag == 0 {
            nextOfLock[slot] = Self.empty
        }
        // Chains are rebuilt from the oldest record, so each lock file's keys keep their order.
        for slot in nameStarts.indices.reversed() where flags[slot] & Self.goneFlag == 0 { index(slot) }
    }

    /// A power of two at least twice `count`, so probes stay short.
    private static func tableSize(for count: Int) -> Int {
        var size = 16
        while size < 2 * count { size *= 2 }
        return size
    }

    /// A seeded hash of `bytes`; masked by a power of two minus one, its sign does not matter.
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var hasher = Hasher()
        hasher.combine(bytes: UnsafeRawBufferPointer(bytes))
        return hasher.finalize()
    }
}
