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
 * Built on the host by harness/containers/images.py and installed setuid beside libfaketime by
 * mailstorm-image-setup.sh, so setuid programs preload it too. For throwaway test containers.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static double speed_up = 1.0;
static int wall_poll_ms = -1;

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
