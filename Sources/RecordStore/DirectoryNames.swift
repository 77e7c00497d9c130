/// What a name in a records or locks directory is: locktop's own (a temporary or set-aside file),
/// a lock file, or a record. Pure rules of names, so a watch sorts what it sees without asking the model.
public enum DirectoryNames {
    /// Whether `name` is locktop's own (temporary or set aside, a heartbeat, or the hosts'
    /// shared folder ``LockFiles/sharedFolderName``), never a record or lock.
    public static func isPrivate(_ name: String) -> Bool {
        name.hasPrefix(LockFiles.privatePrefix) || name == LockFiles.sharedFolderName
    }

    /// Whether the raw name starts with locktop's private prefix, or is the shared folder.
    public static func isPrivate(_ raw: UnsafeBufferPointer<UInt8>) -> Bool {
        raw.starts(with: LockFiles.privatePrefix.utf8) || raw.elementsEqual(LockFiles.sharedFolderName.utf8)
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
