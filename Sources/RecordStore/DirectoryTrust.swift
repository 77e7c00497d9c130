import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Whether another uid could rename or replace a directory locktop acts in, or one of its
/// parents: then what root breaks or creates "there" could be somewhere else by the time it acts.
/// A parent writable by others lets them rename what is in it, unless it is sticky; in a sticky
/// one, the entry's owner still may.
public enum DirectoryTrust {
    /// Why another uid may rename or replace `path` (or a parent of it), with the path and the uid
    /// or mode that allow it; nil when only this user and root may. Reading such a directory is
    /// still fine; acting in it is refused unless the operator says `--allow-untrusted-parent`.
    public static func untrustedReason(_ path: String) -> String? {
        guard let real = realpath(path, nil) else { return nil }
        var current = String(cString: real)
        free(real)
        let me = geteuid()
        func trusted(_ uid: UInt32) -> Bool { uid == me || uid == 0 }
        while current != "/" {
            let parent = LockFiles.directory(of: current)
            var entryStatus = stat()
            var parentStatus = stat()
            guard lstat(current, &entryStatus) == 0, stat(parent, &parentStatus) == 0 else { return nil }
            let mode = UInt32(parentStatus.st_mode)
            let writableByOthers = mode & 0o022 != 0 || !trusted(parentStatus.st_uid)
            if writableByOthers {
                let shown = String(mode & 0o7777, radix: 8)
                if mode & UInt32(S_ISVTX) == 0 {
                    let who =
                        trusted(parentStatus.st_uid)
                        ? "others may write it (mode \(shown))" : "uid \(parentStatus.st_uid) owns it"
                    return "\(parent) lets others rename \(current): \(who), and it is not sticky"
                }
                if !trusted(entryStatus.st_uid) {
                    return "\(current) is owned by uid \(entryStatus.st_uid), who may rename it in the sticky \(parent)"
                }
            }
            current = parent
        }
        return nil
    }
}
