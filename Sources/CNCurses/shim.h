#ifndef LOCKTOP_CNCURSES_SHIM_H
#define LOCKTOP_CNCURSES_SHIM_H

/* The wide-character API is hidden unless this is defined before curses.h. */
#define NCURSES_WIDECHAR 1
#include <locale.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <ncursesw/curses.h>

/* Accessors for the C globals and macros that Swift 6 cannot use directly. */
static inline WINDOW *locktop_stdscr(void) { return stdscr; }
static inline attr_t locktop_attr_bold(void) { return A_BOLD; }
static inline attr_t locktop_attr_reverse(void) { return A_REVERSE; }
static inline attr_t locktop_attr_underline(void) { return A_UNDERLINE; }
static inline attr_t locktop_attr_dim(void) { return A_DIM; }
static inline attr_t locktop_attr_normal(void) { return A_NORMAL; }

/* Asks for clicks and the wheel (ncurses turns the terminal's mouse reporting on), with no click
   delay. Returns whether the terminal reports any. */
static inline int locktop_enable_mouse(void) {
    mouseinterval(0);
    return mousemask(BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON4_PRESSED | BUTTON5_PRESSED, NULL) != 0;
}

/* The pending mouse event: 1 for a click at x, y; 2 for the wheel up, 3 for down; 0 for none. */
static inline int locktop_read_mouse(int *x, int *y) {
    MEVENT event;
    if (getmouse(&event) != OK) return 0;
    *x = event.x;
    *y = event.y;
    if (event.bstate & BUTTON4_PRESSED) return 2;
    if (event.bstate & BUTTON5_PRESSED) return 3;
    if (event.bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED)) return 1;
    return 0;
}

/* Blocks SIGINT, SIGTERM and SIGHUP (replacing the whole mask, so an inherited blocked SIGWINCH
   is unblocked) and returns a signalfd that reads them, or -1. */
static inline int locktop_termination_signalfd(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_SETMASK, &set, NULL) != 0) return -1;
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* Reads one signal number from a signalfd, or 0. */
static inline int locktop_read_signal(int fd) {
    struct signalfd_siginfo info;
    return read(fd, &info, sizeof info) == (ssize_t)sizeof info ? (int)info.ssi_signo : 0;
}

static void locktop_crash_handler(int signal) {
    endwin();
    static const char message[] = "locktop: crashed; the terminal was restored\n";
    ssize_t ignored = write(2, message, sizeof message - 1);
    (void)ignored;
    struct sigaction action;
    action.sa_handler = SIG_DFL;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;
    sigaction(signal, &action, NULL);
    raise(signal);
}

/* Restores the terminal before a crash signal (a Swift trap, a segfault) ends the process. */
static inline void locktop_install_crash_handler(void) {
    struct sigaction action;
    action.sa_handler = locktop_crash_handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESETHAND;
    int signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGABRT };
    for (unsigned i = 0; i < sizeof signals / sizeof signals[0]; i++) sigaction(signals[i], &action, NULL);
}

#endif
