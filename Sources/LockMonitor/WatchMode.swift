import Foundation

/// How the monitor learns about changes.
public enum WatchMode: Equatable, Sendable {
    /// inotify events, applied one name at a time.
    case inotify
    /// A poll every `interval` seconds, for filesystems where inotify sees nothing: directory stamps,
    /// names when one moved, and statuses a budgeted slice at a time (see ``PollingScanner``).
    case polling(interval: TimeInterval)

    /// Words for a header: `inotify` or `polling every 2s`.
    public var text: String {
        switch self {
        case .inotify: return "inotify"
        case .polling(let interval): return "polling every \(DurationText.format(interval))"
        }
    }

    /// Filesystem types where inotify does not report changes made by other machines.
    static let remoteFilesystemTypes: Set<String> = [
        "nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs", "lustre", "afs", "gpfs", "ocfs2", "gfs2",
    ]

    /// The type of the network or user-space filesystem holding `path` (for example `nfs4`), or nil
    /// for a local one. It reads the longest matching mount point in `/proc/self/mounts`.
    public static func remoteFilesystemType(of path: String) -> String? {
        guard let mounts = try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8) else { return nil }
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        var best: (mountPoint: String, type: String)?
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 3 else { continue }
            let mountPoint = String(fields[1]).replacingOccurrences(of: "\\040", with: " ")
            let covers = mountPoint == "/" || resolved == mountPoint || resolved.hasPrefix(mountPoint + "/")
            if covers, mountPoint.count >= (best?.mountPoint.count ?? -1) {
                best = (mountPoint, String(fields[2]))
            }
        }
        guard let type = best?.type else { return nil }
        return remoteFilesystemTypes.contains(type) || type.hasPrefix("fuse") ? type : nil
    }
}
