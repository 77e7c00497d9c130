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

/// The watchdog of a spawned group: SIGUSR1 (its parent-death signal) means its parent died, and
/// the group gets SIGKILL; SIGTERM from the parent dismisses it. It holds no descriptor of its parent's.
static void locktop_watch_group(pid_t parent, pid_t group) {
    for (int fd = 3; fd < 1024; fd++) close(fd);
    sigset_t wanted;
    sigemptyset(&wanted);
    sigaddset(&wanted, SIGUSR1);
    sigaddset(&wanted, SIGTERM);
    sigprocmask(SIG_BLOCK, &wanted, NULL);
    prctl(PR_SET_PDEATHSIG, SIGUSR1);
    if (getppid() != parent) {
        kill(-group, SIGKILL);
        _exit(0);
    }
    int received = 0;
    while (sigwait(&wanted, &received) != 0) {}
    if (received == SIGUSR1) kill(-group, SIGKILL);
    _exit(0);
}

int locktop_become_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

pid_t locktop_spawn(const char *path, char *const argv[], char *const envp[], int death_signal, int *error_code,
                    int *watchdog) {
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
    if (watchdog != NULL) {
        pid_t dog = fork();
        if (dog == 0) locktop_watch_group(parent, child);
        *watchdog = dog > 0 ? dog : -1;
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

int locktop_fanotify_watch(int directory) {
    int fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
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

void locktop_release_free_memory(void) {
    malloc_trim(0);
}
