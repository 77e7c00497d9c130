#define _GNU_SOURCE
#include "CLocktopSystem.h"

#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/fanotify.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

/// Whether a process of `group` still runs: one whose /proc/PID/stat names that group and is not a
/// zombie (a parent that never reaps, as some containers' init, leaves those for ever). Only system
/// calls, as a forked child of a threaded process may make: no stdio, no malloc.
static int locktop_group_runs(pid_t group) {
    if (kill(-group, 0) != 0) return 0;
    int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (proc < 0) return 1;
    char entries[4096];
    int runs = 0;
    long count;
    while (!runs && (count = syscall(SYS_getdents64, proc, entries, sizeof entries)) > 0) {
        for (long offset = 0; offset < count && !runs;) {
            unsigned short length = *(unsigned short *)(entries + offset + 16);
            const char *name = entries + offset + 19;
            offset += length;
            if (name[0] < '1' || name[0] > '9') continue;
            char path[64] = "/proc/";
            int at = 6;
            for (const char *c = name; *c && at < 40; c++) path[at++] = *c;
            const char *tail = "/stat";
            for (const char *c = tail; *c; c++) path[at++] = *c;
            path[at] = 0;
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0) continue;
            char stat[512];
            ssize_t got = read(fd, stat, sizeof stat - 1);
            close(fd);
            if (got <= 0) continue;
            stat[got] = 0;
            // "pid (comm) S ppid pgrp ...": the command may hold spaces and parentheses; the last ')' ends it.
            char *end = NULL;
            for (char *c = stat; *c; c++)
                if (*c == ')') end = c;
            if (end == NULL || end[1] != ' ' || end[2] == 0) continue;
            char state = end[2];
            char *field = end + 3;
            for (int skip = 0; skip < 2 && *field; skip++) {
                while (*field == ' ') field++;
                if (skip == 1) break;
                while (*field && *field != ' ') field++;
            }
            long pgrp = 0;
            while (*field >= '0' && *field <= '9') pgrp = pgrp * 10 + (*field++ - '0');
            if (pgrp == group && state != 'Z' && state != 'X') runs = 1;
        }
    }
    close(proc);
    return runs;
}

/// Sends the group SIGKILL and returns once none of it runs (or a minute has passed: a process
/// stuck in the kernel), so that the watchdog, which a lock may name, outlives the group.
static void locktop_kill_group(pid_t group) {
    kill(-group, SIGKILL);
    for (int waited = 0; waited < 6000 && locktop_group_runs(group); waited++) usleep(10000);
}

/// The watchdog: SIGUSR2 from its parent names the group to watch (its value); SIGUSR1 (its
/// parent-death signal) means the parent died, and that group gets SIGKILL; SIGTERM from the
/// parent dismisses it. It holds no descriptor of its parent's, and ignores the terminal's signals,
/// which reach its parent's process group too.
static void locktop_watch(pid_t parent) {
    for (int fd = 3; fd < 1024; fd++) close(fd);
    static const int ignored[] = {SIGINT, SIGQUIT, SIGHUP, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU};
    for (unsigned i = 0; i < sizeof ignored / sizeof ignored[0]; i++) signal(ignored[i], SIG_IGN);
    prctl(PR_SET_PDEATHSIG, SIGUSR1);
    pid_t group = 0;
    if (getppid() != parent) _exit(0);
    while (1) {
        sigset_t wanted;
        sigemptyset(&wanted);
        sigaddset(&wanted, SIGUSR1);
        sigaddset(&wanted, SIGUSR2);
        sigaddset(&wanted, SIGTERM);
        siginfo_t info;
        if (sigwaitinfo(&wanted, &info) < 0) continue;
        if (info.si_signo == SIGUSR2 && info.si_pid == parent) {
            group = info.si_value.sival_int;
        } else if (info.si_signo == SIGUSR1) {
            if (group > 0) locktop_kill_group(group);
            _exit(0);
        } else if (info.si_signo == SIGTERM && info.si_pid == parent) {
            _exit(0);
        }
    }
}

pid_t locktop_start_watchdog(void) {
    pid_t parent = getpid();
    sigset_t wanted, previous;
    sigemptyset(&wanted);
    sigaddset(&wanted, SIGUSR1);
    sigaddset(&wanted, SIGUSR2);
    sigaddset(&wanted, SIGTERM);
    // Blocked across the fork, so none is lost before the watchdog waits for them.
    sigprocmask(SIG_BLOCK, &wanted, &previous);
    pid_t dog = fork();
    if (dog == 0) locktop_watch(parent);
    sigprocmask(SIG_SETMASK, &previous, NULL);
    return dog;
}

int locktop_become_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

pid_t locktop_spawn(const char *path, char *const argv[], char *const envp[], int death_signal, int *error_code,
                    pid_t watchdog) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        *error_code = errno;
        return -1;
    }
    pid_t parent = getpid();
    pid_t child = fork();
    if (child < 0) {
        *error_code = errno;
        close(report[0]);
        close(report[1]);
        return -1;
    }
    if (child == 0) {
        // Only async-signal-safe calls from here to exec.
        static const int reset[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGPIPE};
        for (unsigned i = 0; i < sizeof reset / sizeof reset[0]; i++) signal(reset[i], SIG_DFL);
        int code = 0;
        if (setpgid(0, 0) != 0) code = errno;
        if (code == 0 && prctl(PR_SET_PDEATHSIG, death_signal) != 0) code = errno;
        if (code == 0 && getppid() != parent) _exit(127);
        sigset_t empty;
        sigemptyset(&empty);
        sigprocmask(SIG_SETMASK, &empty, NULL);
        if (code == 0) {
            execve(path, argv, envp);
            code = errno;
        }
        ssize_t ignored = write(report[1], &code, sizeof code);
        (void)ignored;
        _exit(127);
    }
    close(report[1]);
    // Set from both sides, so the group exists whichever runs first.
    setpgid(child, child);
    int code = 0;
    ssize_t count;
    do {
        count = read(report[0], &code, sizeof code);
    } while (count < 0 && errno == EINTR);
    close(report[0]);
    if (count == (ssize_t)sizeof code) {
        int status;
        while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
        *error_code = code;
        return -1;
    }
    *error_code = 0;
    if (watchdog > 0) {
        union sigval group = {.sival_int = child};
        sigqueue(watchdog, SIGUSR2, group);
    }
    return child;
}

int locktop_signalfd(const int *signals, int count) {
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < count; i++) sigaddset(&set, signals[i]);
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int locktop_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    ssize_t count;
    do {
        count = read(fd, &info, sizeof info);
    } while (count < 0 && errno == EINTR);
    return count == (ssize_t)sizeof info ? (int)info.ssi_signo : 0;
}

int locktop_renameat(int directory, const char *source, const char *target, unsigned int flags) {
    return (int)syscall(SYS_renameat2, directory, source, directory, target, flags);
}

unsigned int locktop_rename_noreplace_flag(void) { return RENAME_NOREPLACE; }
unsigned int locktop_rename_exchange_flag(void) { return RENAME_EXCHANGE; }

int locktop_fanotify_add(int fd, int directory) {
    return fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_ONLYDIR, FAN_CLOSE_WRITE | FAN_CLOSE_NOWRITE | FAN_EVENT_ON_CHILD,
                         directory, ".");
}

#ifndef FAN_REPORT_PIDFD
#define FAN_REPORT_PIDFD 0x00000080
#endif

int locktop_fanotify_watch(int directory) {
    unsigned int flags = FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK;
    int fd = fanotify_init(flags | FAN_REPORT_PIDFD, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
    // A kernel before 5.15 refuses the flag: its events name the pid alone.
    if (fd < 0 && errno == EINVAL) fd = fanotify_init(flags, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
    if (fd < 0) return -1;
    if (locktop_fanotify_add(fd, directory) != 0) {
        int code = errno;
        close(fd);
        errno = code;
        return -1;
    }
    return fd;
}

int locktop_fresh_times(int directory, long long *modified, long long *changed) {
    struct statx info;
    if (statx(directory, "", AT_EMPTY_PATH | AT_STATX_FORCE_SYNC, STATX_MTIME | STATX_CTIME, &info) != 0) return -1;
    *modified = (long long)info.stx_mtime.tv_sec * 1000000000LL + info.stx_mtime.tv_nsec;
    *changed = (long long)info.stx_ctime.tv_sec * 1000000000LL + info.stx_ctime.tv_nsec;
    return 0;
}

int locktop_fresh_entry_status(int directory, const char *name, long long *modified, unsigned int *owner,
                                unsigned int *mode) {
    struct statx info;
    if (statx(directory, name, AT_SYMLINK_NOFOLLOW | AT_STATX_FORCE_SYNC, STATX_MTIME | STATX_UID | STATX_TYPE,
              &info) != 0)
        return -1;
    *modified = (long long)info.stx_mtime.tv_sec * 1000000000LL + info.stx_mtime.tv_nsec;
    *owner = info.stx_uid;
    *mode = info.stx_mode;
    return 0;
}

void locktop_release_free_memory(void) {
    malloc_trim(0);
}

void locktop_map_large_allocations_apart(void) {
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
}

int locktop_pidfd_open(pid_t pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int locktop_pidfd_send_signal(int pidfd, int signal) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, signal, NULL, 0);
}
