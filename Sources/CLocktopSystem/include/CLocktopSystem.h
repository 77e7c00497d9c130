#ifndef CLOCKTOP_SYSTEM_H
#define CLOCKTOP_SYSTEM_H

#include <sys/types.h>

/// Forks a watchdog for a command's group, before the group exists: a lock may name it, since it
/// outlives this process until the group is gone. Given a group by locktop_spawn, it sends that
/// whole group SIGKILL when this process dies (even by SIGKILL: its parent-death signal wakes it),
/// and exits once none of the group is left; SIGTERM from this process dismisses it. Returns its
/// pid, or -1 with errno.
pid_t locktop_start_watchdog(void);

/// Forks and execs `path` with `argv` and `envp`. In the child, before exec: the signals locktop
/// forwards get their default handling, the signal mask is emptied, and `death_signal` is set as
/// the parent-death signal (prctl PR_SET_PDEATHSIG), so the child dies with this process; if this process is already gone by then, the child exits 127 at once. The
/// child leads a process group of its own, which the `watchdog` (from locktop_start_watchdog; 0 for
/// none) is told to watch. Returns the child's pid, or -1 with `*error_code` set to the errno of
/// the failed fork or exec.
pid_t locktop_spawn(const char *path, char *const argv[], char *const envp[], int death_signal, int *error_code,
                    pid_t watchdog);

/// Makes this process a child subreaper (PR_SET_CHILD_SUBREAPER): orphans of its descendants
/// become its children, so it can wait for a whole process group.
int locktop_become_subreaper(void);

/// A nonblocking, close-on-exec signalfd for the `count` signals in `signals`, which the caller
/// keeps blocked. Returns -1 with errno on failure.
int locktop_signalfd(const int *signals, int count);

/// Reads one signal from a signalfd: its number, or 0 when none is pending.
int locktop_signalfd_read(int fd);

/// Renames `source` to `target`, both names in the open `directory` (renameat2 with `flags`).
/// Returns 0, or -1 with errno (EINVAL or ENOSYS where the filesystem cannot honour the flags).
int locktop_renameat(int directory, const char *source, const char *target, unsigned int flags);

/// RENAME_NOREPLACE: the rename fails with EEXIST rather than replace a target.
unsigned int locktop_rename_noreplace_flag(void);

/// RENAME_EXCHANGE: the two names swap files atomically.
unsigned int locktop_rename_exchange_flag(void);

/// The modification and change times of the open `directory` in nanoseconds, asked of the
/// filesystem itself (statx with AT_EMPTY_PATH and AT_STATX_FORCE_SYNC), past the attribute cache
/// of NFS and FUSE. Returns 0 or -1 with errno.
int locktop_fresh_times(int directory, long long *modified, long long *changed);
/// The modification time (ns), owner and mode of entry `name` in `directory`, a link not followed, asked of
/// the filesystem itself past NFS's attribute cache (statx with AT_STATX_FORCE_SYNC). -1 with errno on failure.
int locktop_fresh_entry_status(int directory, const char *name, long long *modified, unsigned int *owner,
                               unsigned int *mode);

/// Gives the pages of freed memory back to the system (glibc's malloc_trim), after a large
/// transient allocation such as the listing of a million names.
void locktop_release_free_memory(void);

/// Has every allocation of 128 KiB or more mapped apart, and so given back to the system when it
/// is freed (mallopt M_MMAP_THRESHOLD, which also stops glibc raising that threshold after such a
/// free): a long-running process whose large arrays grow by doubling keeps no high-water mark.
void locktop_map_large_allocations_apart(void);

/// A nonblocking, close-on-exec fanotify descriptor (FAN_CLASS_NOTIF) that reports every close of
/// a file in `directory` with the pid of the process that had it open: FAN_CLOSE_WRITE and
/// FAN_CLOSE_NOWRITE with FAN_EVENT_ON_CHILD. `directory` is an open descriptor of it (O_PATH
/// will do): the mark is on that very inode. Each event carries a pidfd record (FAN_REPORT_PIDFD,
/// Linux 5.15) when the kernel has it, so a reader can tell a process that had exited by the time
/// its close was read. Needs CAP_SYS_ADMIN. Returns -1 with errno on failure.
int locktop_fanotify_watch(int directory);

/// Adds the open `directory` to a descriptor from locktop_fanotify_watch. Returns 0, or -1 with errno.
int locktop_fanotify_add(int fd, int directory);

/// A close-on-exec pidfd of process `pid` (pidfd_open): it names that very process, so a signal
/// sent through it can never reach a later process that reuses the pid. Returns -1 with errno.
int locktop_pidfd_open(pid_t pid);

/// Sends `signal` to the process of `pidfd` (pidfd_send_signal). Returns 0, or -1 with errno.
int locktop_pidfd_send_signal(int pidfd, int signal);

#endif
