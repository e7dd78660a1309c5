/*
 * mailstorm-alarm.c: alarm() to the microsecond on libfaketime's fast clock (and a wall poll).
 *
 * Why: libfaketime (src/libfaketime.c, alarm()) divides an alarm's seconds by the speed-up and
 * hands the result to the real alarm(), which takes whole seconds, so the fraction is lost and
 * anything under one wall second becomes alarm(0): the timer is cancelled. Exim 4.97 and later
 * re-arm the daemon's queue-run alarm with the time left to the next tick (daemon.c,
 * next_qrunner_interval), always a little under the interval, so at a speed-up near the interval
 * the queue runner stopped for good (measured: 4.98.2 at x1800 ran one queue run in 7 warped
 * days). Its SMTP timeouts (ALARM() around connect and writes) were cancelled the same way.
 *
 * What: preloaded *before* libfaketime, this alarm() arms ITIMER_REAL with seconds / speed-up,
 * to the microsecond, through setitimer(), which libfaketime does not intercept; what it returns
 * is the time left on the fast clock, rounded like glibc's alarm(). The speed-up is the `xN` of
 * FAKETIME, read when the library loads (before a program such as Exim trims its environment).
 * Without a speed-up it is alarm() itself.
 *
 * Also: a poll() whose timeout is exactly MAILSTORM_WALL_POLL_MS (when set) waits that long in wall
 * time instead of being divided. OpenSMTPD's parent waits for each child's setup handshake with
 * poll(..., 10000) (smtpd.c, imsg_wait) and dies with "imsg_wait: Connection timed out" when it
 * runs out; at x1440 that is 7 ms, less than a child takes to start. The wait is part of no
 * schedule: it only bounds a start-up that never finishes. Every other poll() goes to libfaketime.
 *
 * Also: with MAILSTORM_WARP_WAITS=1, select() and nanosleep() wait on the fast clock *outside*
 * libfaketime. libfaketime makes the real call inside DONT_FAKE_TIME (src/libfaketime.c, select
 * and nanosleep), so a signal handler that runs during the wait reads the *real* clock. Sendmail's
 * SIGALRM handler does (libsm/clock.c, sm_tick: `now = time(NULL)`, then runs the events due by
 * then): its daemon sits in select() between connections, every tick found its queue-run event
 * not yet due on the real clock and re-armed it, and no queue run ever came. Off by default: the
 * other MTAs keep libfaketime's own waits, on which their measurements were made.
 *
 * Also: with MAILSTORM_WARP_STAT=1, stat(), lstat() and fstat() (and their 64 variants) report
 * a file's times on the fast clock. The kernel stamps files with the real time, and every warp
 * runs with NO_FAKE_STAT=1: libfaketime's own stat faking re-fakes a time the program wrote with
 * utime() (Postfix's qmgr then skipped its deferred messages for ever, docs/clock-warp.md).
 * nullmailer sets no file time; it ages a queued message as time() minus its file's mtime
 * (send.cc, load_messages and send_all), so on the warped clock every message looked older by
 * (K - 1) x the wall time between the daemon's start and the message's arrival (measured). A
 * file time m becomes now_fast - K x (now_real - m): where the fast clock was at that instant.
 * A program that writes file times with utime() and reads them back must not use it.
 *
 * Also: sleep() that returns what glibc's returns (libfaketime's returns garbage), and with
 * MAILSTORM_WARP_NAPS=1 takes what a nap overslept off the next (see sleep()).
 *
 * Also: with MAILSTORM_WARP_EPOLL=1, epoll_wait() and epoll_pwait() wait their timeout divided by
 * the speed-up to the nanosecond (epoll_pwait2), and the timer slack is 1 ns. libfaketime divides
 * the milliseconds in integers (src/libfaketime.c, epoll_wait): at x1440 every timeout under
 * 1.44 s becomes 0 and an event loop spins on the CPU until its timer is due. Node (Haraka) waits
 * only there, and Haraka's outbound timer queue ticks every second (outbound/timer_queue.js), so
 * the daemon spun a core for its whole run.
 *
 * Built on the host by harness/containers/images.py and installed setuid beside libfaketime by
 * mailstorm-image-setup.sh, so setuid programs preload it too. For throwaway test containers.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static double speed_up = 1.0;
static int wall_poll_ms = -1;
static int warp_waits = 0;
static int warp_stat = 0;
static int warp_naps = 0;
static int warp_epoll = 0;
static double nap_debt = 0.0; /* fast seconds the last sleep() overslept (MAILSTORM_WARP_NAPS) */

static void read_speed_up(void) __attribute__((constructor));

static void read_speed_up(void)
{
    const char *spec = getenv("FAKETIME");
    const char *x = spec ? strchr(spec, 'x') : NULL;
    if (x != NULL) {
        double value = strtod(x + 1, NULL);
        if (value > 0.0)
            speed_up = value;
    }
    const char *wall = getenv("MAILSTORM_WALL_POLL_MS");
    if (wall != NULL && *wall != '\0')
        wall_poll_ms = atoi(wall);
    const char *waits = getenv("MAILSTORM_WARP_WAITS");
    warp_waits = waits != NULL && strcmp(waits, "1") == 0;
    const char *stats = getenv("MAILSTORM_WARP_STAT");
    warp_stat = stats != NULL && strcmp(stats, "1") == 0;
    const char *naps = getenv("MAILSTORM_WARP_NAPS");
    warp_naps = naps != NULL && strcmp(naps, "1") == 0;
    const char *epoll = getenv("MAILSTORM_WARP_EPOLL");
    warp_epoll = epoll != NULL && strcmp(epoll, "1") == 0;
    if (warp_naps || warp_epoll)
        prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL); /* the default 50 us is x K on the fast clock */
}

/* A wait of `value` on the fast clock in wall time, to the nanosecond; never zero when set. */
static struct timespec wall_wait(struct timespec value)
{
    double seconds = ((double)value.tv_sec + (double)value.tv_nsec / 1e9) / speed_up;
    struct timespec wall;
    wall.tv_sec = (time_t)seconds;
    wall.tv_nsec = (long)((seconds - (double)wall.tv_sec) * 1e9);
    if ((value.tv_sec != 0 || value.tv_nsec != 0) && wall.tv_sec == 0 && wall.tv_nsec == 0)
        wall.tv_nsec = 1;
    return wall;
}

/* Wall time left of a wait, back on the fast clock. */
static struct timespec fast_time(struct timespec wall)
{
    double seconds = ((double)wall.tv_sec + (double)wall.tv_nsec / 1e9) * speed_up;
    struct timespec fast;
    fast.tv_sec = (time_t)seconds;
    fast.tv_nsec = (long)((seconds - (double)fast.tv_sec) * 1e9);
    return fast;
}

int select(int nfds, fd_set *readfds, fd_set *writefds, fd_set *exceptfds, struct timeval *timeout)
{
    static int (*next_select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
    struct timespec wait, left;
    long result;
    if (!warp_waits) {
        if (next_select == NULL)
            next_select = (int (*)(int, fd_set *, fd_set *, fd_set *, struct timeval *))dlsym(
                RTLD_NEXT, "select");
        return next_select(nfds, readfds, writefds, exceptfds, timeout);
    }
    if (timeout != NULL) {
        wait.tv_sec = timeout->tv_sec;
        wait.tv_nsec = (long)timeout->tv_usec * 1000L;
        wait = wall_wait(wait);
    }
    /* pselect6 with no signal mask is select() with a timespec; the kernel writes back the time
     * left, as select() does on Linux. */
    result = syscall(SYS_pselect6, nfds, readfds, writefds, exceptfds,
                     timeout != NULL ? &wait : NULL, NULL);
    if (timeout != NULL) {
        left = fast_time(wait);
        timeout->tv_sec = left.tv_sec;
        timeout->tv_usec = (suseconds_t)(left.tv_nsec / 1000L);
    }
    return (int)result;
}

int nanosleep(const struct timespec *request, struct timespec *remaining)
{
    static int (*next_nanosleep)(const struct timespec *, struct timespec *);
    struct timespec wait, left;
    long result;
    if (!warp_waits || request == NULL) {
        if (next_nanosleep == NULL)
            next_nanosleep = (int (*)(const struct timespec *, struct timespec *))dlsym(
                RTLD_NEXT, "nanosleep");
        return next_nanosleep(request, remaining);
    }
    wait = wall_wait(*request);
    result = syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &wait, &left);
    if (result != 0 && remaining != NULL)
        *remaining = fast_time(left);
    return (int)result;
}

/* sleep() as glibc's: one nanosleep() (this library's, then libfaketime's), returning the time
 * left only when a signal cut it short. libfaketime's sleep() (src/libfaketime.c, v0.9.10 and
 * its master of 2026) returns the seconds of a `rem` the real nanosleep() never wrote after a
 * full sleep: stack garbage times the speed-up. dma counts its pause as `slept += 30 -
 * sleep(30)` (dma.c, deliver), so the garbage ended every pause after one nap: measured, a
 * retry every 30 fast seconds instead of after 5 minutes.
 *
 * With MAILSTORM_WARP_NAPS=1, what a sleep() overslept on the fast clock is taken off the next
 * one, and the process's timer slack is 1 ns. A wake-up comes some 0.2 ms of wall time late,
 * which is K times that on the fast clock: dma's 3-hour pause, 360 naps of 30 s, measured
 * 3h04m at x2880 where the real clock gives 3 h and some 40 ms. A chain of naps now ends where
 * its fast-clock total says, within one wake-up. */
static double fast_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now); /* libfaketime's: the fast clock */
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

unsigned int sleep(unsigned int seconds)
{
    struct timespec request = {(time_t)seconds, 0}, left = {0, 0};
    double asked = (double)seconds, before = 0.0, overslept;
    if (warp_naps && seconds != 0) {
        asked = (double)seconds - nap_debt;
        if (asked < 0.0)
            asked = 0.0;
        request.tv_sec = (time_t)asked;
        request.tv_nsec = (long)((asked - (double)request.tv_sec) * 1e9);
        before = fast_now();
    }
    if (nanosleep(&request, &left) == 0) {
        if (warp_naps && seconds != 0) {
            overslept = fast_now() - before - asked;
            nap_debt = overslept < 0.0 ? 0.0 : overslept > seconds ? (double)seconds : overslept;
        }
        return 0;
    }
    nap_debt = 0.0;
    return (unsigned int)left.tv_sec + (left.tv_nsec >= 500000000L ? 1U : 0U);
}

int poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
    static int (*next_poll)(struct pollfd *, nfds_t, int);
    if (wall_poll_ms > 0 && timeout == wall_poll_ms) {
        struct timespec wait = {timeout / 1000, (long)(timeout % 1000) * 1000000L};
        return (int)syscall(SYS_ppoll, fds, nfds, &wait, NULL, (size_t)8);
    }
    if (next_poll == NULL)
        next_poll = (int (*)(struct pollfd *, nfds_t, int))dlsym(RTLD_NEXT, "poll");
    return next_poll(fds, nfds, timeout);
}

/* An epoll wait of `timeout` fast milliseconds in wall time, to the nanosecond (see the top). */
static int wall_epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout,
                           const sigset_t *sigmask)
{
    struct timespec fast = {timeout / 1000, (long)(timeout % 1000) * 1000000L};
    struct timespec wait = wall_wait(fast);
    return (int)syscall(SYS_epoll_pwait2, epfd, events, maxevents, &wait, sigmask,
                        (size_t)(_NSIG / 8));
}

int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout)
{
    static int (*next_epoll_wait)(int, struct epoll_event *, int, int);
    if (warp_epoll && timeout > 0)
        return wall_epoll_wait(epfd, events, maxevents, timeout, NULL);
    if (next_epoll_wait == NULL)
        next_epoll_wait = (int (*)(int, struct epoll_event *, int, int))dlsym(RTLD_NEXT,
                                                                              "epoll_wait");
    return next_epoll_wait(epfd, events, maxevents, timeout);
}

int epoll_pwait(int epfd, struct epoll_event *events, int maxevents, int timeout,
                const sigset_t *sigmask)
{
    static int (*next_epoll_pwait)(int, struct epoll_event *, int, int, const sigset_t *);
    if (warp_epoll && timeout > 0)
        return wall_epoll_wait(epfd, events, maxevents, timeout, sigmask);
    if (next_epoll_pwait == NULL)
        next_epoll_pwait = (int (*)(int, struct epoll_event *, int, int, const sigset_t *))dlsym(
            RTLD_NEXT, "epoll_pwait");
    return next_epoll_pwait(epfd, events, maxevents, timeout, sigmask);
}

unsigned int alarm(unsigned int seconds)
{
    struct itimerval next, previous;
    double wall = (double)seconds / speed_up;
    double left;
    unsigned int whole;

    memset(&next, 0, sizeof next);
    memset(&previous, 0, sizeof previous);
    if (seconds != 0) {
        next.it_value.tv_sec = (time_t)wall;
        next.it_value.tv_usec = (suseconds_t)((wall - (double)next.it_value.tv_sec) * 1e6);
        if (next.it_value.tv_sec == 0 && next.it_value.tv_usec == 0)
            next.it_value.tv_usec = 1; /* an alarm that was asked for must not cancel */
    }
    if (setitimer(ITIMER_REAL, &next, &previous) != 0)
        return 0;
    left = ((double)previous.it_value.tv_sec + (double)previous.it_value.tv_usec / 1e6) * speed_up;
    if (left <= 0.0)
        return 0;
    whole = (unsigned int)(left + 0.5);
    return whole != 0 ? whole : 1; /* a pending alarm is never reported as none */
}

/* A file time (real, from the kernel) moved onto the fast clock: where it read at that instant. */
static void fast_file_time(struct timespec *stamp, double fast_now, double real_now)
{
    double real = (double)stamp->tv_sec + (double)stamp->tv_nsec / 1e9;
    double fast = fast_now - speed_up * (real_now - real);
    stamp->tv_sec = (time_t)fast;
    stamp->tv_nsec = (long)((fast - (double)stamp->tv_sec) * 1e9);
}

/* The three times of a stat result on the fast clock (`struct stat` and `struct stat64` are
 * one layout on 64-bit Linux, so the 64 variants pass their buffer's times the same way). */
static int fast_file_times(int result, struct timespec *atim, struct timespec *mtim,
                           struct timespec *ctim)
{
    struct timespec fast, real;
    if (!warp_stat)
        return result;
    /* clock_gettime() is libfaketime's (preloaded after this library); the syscall is not. */
    clock_gettime(CLOCK_REALTIME, &fast);
    syscall(SYS_clock_gettime, CLOCK_REALTIME, &real);
    double fast_now = (double)fast.tv_sec + (double)fast.tv_nsec / 1e9;
    double real_now = (double)real.tv_sec + (double)real.tv_nsec / 1e9;
    fast_file_time(atim, fast_now, real_now);
    fast_file_time(mtim, fast_now, real_now);
    fast_file_time(ctim, fast_now, real_now);
    return result;
}

/* `buf` is only read when the call succeeded, and then it was filled. */
#define FAST_TIMES(result, buf) \
    ((result) != 0 ? (result) : fast_file_times(0, &(buf)->st_atim, &(buf)->st_mtim, \
                                                &(buf)->st_ctim))

/* stat() and friends, each passed on to the next definition (libfaketime's or glibc's). */
#define WRAP_PATH_STAT(name, type)                                                     \
    int name(const char *path, type *buf)                                            \
    {                                                                                \
        static int (*next)(const char *, type *);                                   \
        if (next == NULL)                                                            \
            next = (int (*)(const char *, type *))dlsym(RTLD_NEXT, #name);          \
        return FAST_TIMES(next(path, buf), buf);                                     \
    }
#define WRAP_FD_STAT(name, type)                                                       \
    int name(int fd, type *buf)                                                      \
    {                                                                                \
        static int (*next)(int, type *);                                            \
        if (next == NULL)                                                            \
            next = (int (*)(int, type *))dlsym(RTLD_NEXT, #name);                   \
        return FAST_TIMES(next(fd, buf), buf);                                       \
    }

WRAP_PATH_STAT(stat, struct stat)
WRAP_PATH_STAT(lstat, struct stat)
WRAP_FD_STAT(fstat, struct stat)
WRAP_PATH_STAT(stat64, struct stat64)
WRAP_PATH_STAT(lstat64, struct stat64)
WRAP_FD_STAT(fstat64, struct stat64)
