/*
 * The one wait: every wait the library does in user space (poll and select, a timed connect, the
 * TLS steps, sleeps, thread joins, a recv on a never-connected socket) comes here with a deadline,
 * and the time left is computed here only. A signal never ends a wait early: the wait is resumed
 * with what is left of the same deadline. (A blocking plain recv/send is not a wait in this sense:
 * it stays one blocking kernel call.)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <time.h>

#include "host.h"

host_deadline host_deadline_in_us(uint64_t us)
{
    uint64_t now = host_monotonic_us();
    return us >= HOST_NEVER - now ? HOST_NEVER : now + us;
}

host_deadline host_deadline_in_ms(int64_t ms)
{
    return ms < 0 ? HOST_NEVER : host_deadline_in_us((uint64_t)ms * 1000u);
}

int host_deadline_left_ms(host_deadline d)
{
    if (d == HOST_NEVER)
        return -1;
    uint64_t now = host_monotonic_us();
    if (now >= d)
        return 0;
    uint64_t ms = (d - now + 999) / 1000; /* rounded up: a wait never ends before its deadline */
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

static struct timespec monotonic_at(host_deadline d)
{
    return (struct timespec){(time_t)(d / 1000000u), (long)(d % 1000000u) * 1000};
}

static short events_of(const host_waiter *w)
{
    if (w->on == HOST_WAIT_NOTE)
        return POLLIN;
    return (short)((w->events & HOST_EV_IN ? POLLIN : 0) | (w->events & HOST_EV_OUT ? POLLOUT : 0));
}

static int wait_fd(const host_waiter *w, host_deadline d)
{
    struct pollfd p = {w->on == HOST_WAIT_SOCK ? w->sock->fd : w->fd, events_of(w), 0};
    int rc;
    while ((rc = poll(&p, 1, host_deadline_left_ms(d))) < 0 && errno == EINTR)
        ;
    return rc < 0 ? -host_errno_to_device(errno) : rc;
}

UPY_HOT_INLINE int wait_reactor(const host_waiter *w, host_deadline d)
{
    struct epoll_event evs[HOST_WAIT_MAX_EVENTS];
    int max = w->max < HOST_WAIT_MAX_EVENTS ? w->max : HOST_WAIT_MAX_EVENTS, n;
    while ((n = epoll_wait(w->fd, evs, max, host_deadline_left_ms(d))) < 0 && errno == EINTR)
        ;
    if (n < 0)
        return -host_errno_to_device(errno);
    for (int i = 0; i < n; i++) {
        uint32_t e = evs[i].events;
        w->out[i].key = evs[i].data.u64;
        w->out[i].events = (e & EPOLLIN ? HOST_EV_IN : 0) | (e & EPOLLOUT ? HOST_EV_OUT : 0) |
                           (e & EPOLLHUP ? HOST_EV_HUP : 0) | (e & EPOLLERR ? HOST_EV_ERR : 0);
    }
    return n;
}

/* The condition variable waits on the monotonic clock, so a change of the wall clock moves no
 * deadline. One wake-up per call: the caller re-checks its condition and calls again. */
static int wait_cond(const host_waiter *w, host_deadline d)
{
    if (d == HOST_NEVER)
        return pthread_cond_wait(w->cond, w->mutex) == 0;
    struct timespec at = monotonic_at(d);
    return pthread_cond_clockwait(w->cond, w->mutex, CLOCK_MONOTONIC, &at) == 0;
}

static int sleep_until(host_deadline d)
{
    struct timespec at = monotonic_at(d);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR)
        ;
    return 0;
}

/* Inline into host_wait, so a poll keeps no extra frame open across epoll_wait (each costs a
 * mispredicted return: docs/performance.md); the hooks get an out-of-line copy as `next`. */
UPY_HOT_INLINE int wait_kernel(const host_waiter *w, host_deadline d)
{
    switch (w->on) {
    case HOST_WAIT_SOCK:
    case HOST_WAIT_NOTE: return wait_fd(w, d);
    case HOST_WAIT_REACTOR: return wait_reactor(w, d);
    case HOST_WAIT_COND: return wait_cond(w, d);
    default: return sleep_until(d);
    }
}

int host_wait(const host_waiter *w, host_deadline d)
{
    const struct host_hooks *h = host_hooked();
    return h && h->wait ? h->wait(w, d, wait_kernel) : wait_kernel(w, d);
}

void host_sleep_us(uint64_t us)
{
    host_wait(&(host_waiter){.on = HOST_WAIT_SLEEP}, host_deadline_in_us(us));
}
