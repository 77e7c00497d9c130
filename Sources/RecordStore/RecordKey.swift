/// Record keys and the lock file names Prefect derives from them.
public enum RecordKey {
    /// The longest file name Linux allows.
    public static let maximumNameLength = 255

    /// Throws unless `key` names a plain file directly inside the records directory,
    /// and its lock file is a different file.
    public static func validate(_ key: String) throws(RecordStoreError) {
        if key.isEmpty { throw .invalidKey(key: key, reason: "a key cannot be empty") }
        if key == "." || key == ".." { throw .invalidKey(key: key, reason: "a key cannot be \".\" or \"..\"") }
        if key.hasPrefix("/") { throw .invalidKey(key: key, reason: "a key cannot be an absolute path") }
        if key.utf8.contains(UInt8(ascii: "/")) { throw .invalidKey(key: key, reason: "a key cannot contain \"/\"") }
        if key.utf8.contains(0) { throw .invalidKey(key: key, reason: "a key cannot contain a NUL byte") }
        let lockName = lockFileName(forKey: key)
        if lockName.utf8.count > maximumNameLength || key.utf8.count > maximumNameLength {
            throw .invalidKey(
                key: key, reason: "the key or its lock file name is longer than \(maximumNameLength) bytes")
        }
        if lockName == key {
            throw .invalidKey(key: key, reason: "a key ending in \".lock\" would share its file with its own lock")
        }
    }

    /// The lock file name for `key`, by Python's `Path(key).with_suffix(".lock")` rule:
    /// the text after the last dot is replaced, unless that dot starts or ends the name.
    /// So `a-1` locks `a-1.lock`, `task.b` locks `task.lock`, and `.env` locks `.env.lock`.
    public static func lockFileName(forKey key: String) -> String {
        var key = key
        return key.withUTF8 { String(decoding: $0[..<stemLength(ofKey: $0)], as: UTF8.self) } + lockSuffix
    }

    /// Whether `key` is a Prefect cache key: 32 lowercase hex digits, an MD5 of the task's inputs
    /// that names nothing an operator knows.
    public static func isCacheHash(_ key: String) -> Bool {
        key.utf8.count == 32 && key.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// The suffix of every lock file name.
    public static let lockSuffix = ".lock"

    /// The length of the part of `key` its lock file name keeps: up to the last dot, unless that
    /// dot starts or ends the name. The one home of the suffix rule, on raw bytes for the listings.
    public static func stemLength(ofKey key: UnsafeBufferPointer<UInt8>) -> Int {
        if let dot = key.lastIndex(of: UInt8(ascii: ".")), dot > 0, dot < key.count - 1 { return dot }
        return key.count
    }

    /// Whether the raw name `name` is a lock file name: longer than `.lock` and ending in it.
    public static func isLockFileName(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        let suffix = lockSuffix.utf8
        return name.count > suffix.count
            && UnsafeBufferPointer(rebasing: name[(name.count - suffix.count)...]).elementsEqual(suffix)
    }

    /// A key whose lock file is `name` (which ends in `.lock`), nil for other names: the stem itself
    /// when the suffix rule maps it back (`task.lock` → `task`), else the stem with a suffix the
    /// rule replaces (`a.b.lock` → `a.b.key`, as any `a.b.X` locks `a.b.lock`).
    public static func representativeKey(forLockFileName name: String) -> String? {
        guard let stem = lockStem(ofFileName: name) else { return nil }
        return [stem, stem + ".key"].first { lockFileName(forKey: $0) == name }
    }

    /// The key a lock named `name` is shown and reported under: its stem for a lock file name, the
    /// name itself for any other (a Redis lock's key).
    public static func shownKey(ofLockName name: String) -> String {
        lockStem(ofFileName: name) ?? name
    }

    /// The key stem a lock file name stands for: its name without `.lock`, or nil for other names.
    public static func lockStem(ofFileName name: String) -> String? {
        var name = name
        return name.withUTF8 {
            isLockFileName($0) ? String(decoding: $0.dropLast(lockSuffix.utf8.count), as: UTF8.self) : nil
        }
    }
}
