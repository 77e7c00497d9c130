/// What a name in a records or locks directory is: locktop's own (a temporary or set-aside file),
/// a lock file, or a record. Pure rules of names, so a watch sorts what it sees without asking the model.
public enum DirectoryNames {
    /// Whether `name` is locktop's own (temporary or set aside), never a record or lock.
    public static func isPrivate(_ name: String) -> Bool { name.hasPrefix(LockFiles.privatePrefix) }

    /// Whether the raw name starts with locktop's private prefix.
    public static func isPrivate(_ raw: UnsafeBufferPointer<UInt8>) -> Bool {
        raw.starts(with: LockFiles.privatePrefix.utf8)
    }

    /// Whether a name in the records directory is a record.
    public static func isRecordName(_ name: String) -> Bool {
        !isPrivate(name) && RecordKey.lockStem(ofFileName: name) == nil
    }

    /// Whether a name in the locks directory is a lock file.
    public static func isLockName(_ name: String) -> Bool {
        !isPrivate(name) && RecordKey.lockStem(ofFileName: name) != nil
    }
}
