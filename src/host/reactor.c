/*
 * The reactor: epoll, level-triggered, one set per poll object (redis's ae_epoll is the model).
 * Its wait is host_wait's (hostwait.c), like every
 * other. Level-triggered matches the device, whose poll rescans every socket on every pass: a socket
 * that stays ready is reported again, and nothing is lost between calls.
 */
#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host.h"

int host_reactor_new(void)
{
    int fd = epoll_create1(EPOLL_CLOEXEC);
    return fd < 0 ? -host_errno_to_device(errno) : fd;
}

void host_reactor_free(int reactor)
{
    close(reactor);
}

int host_reactor_watch(int reactor, const host_sock *s, int events, uint64_t key, bool watched)
{
    struct epoll_event ev = {
        .events = (events & HOST_EV_IN ? EPOLLIN : 0u) | (events & HOST_EV_OUT ? EPOLLOUT : 0u),
        .data.u64 = key,
    };
    return epoll_ctl(reactor, watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s->fd, &ev) < 0
               ? -host_errno_to_device(errno) : 0;
}

int host_reactor_unwatch(int reactor, const host_sock *s)
{
    return epoll_ctl(reactor, EPOLL_CTL_DEL, s->fd, NULL) < 0 ? -host_errno_to_device(errno) : 0;
}

void host_clear_error(const host_sock *s)
{
    int fd = s->fd;
    int err;
    socklen_t len = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
}
