/*
 * Kernel sockets. Every function returns >= 0 or a negative device errno (hosterr.c); EINTR is
 * retried here, so the device layer never sees it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "host.h"

static int fail(void)
{
    return -host_errno_to_device(errno);
}

int host_errno(void)
{
    return fail();
}

static struct sockaddr_in to_sockaddr(host_addr a)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(a.port), .sin_addr.s_addr = htonl(a.ip)};
    return sin;
}

static host_addr from_sockaddr(const struct sockaddr_in *sin)
{
    return (host_addr){ntohl(sin->sin_addr.s_addr), ntohs(sin->sin_port)};
}

int host_socket(int type)
{
    int fd = socket(AF_INET, (type == 2 ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
    return fd < 0 ? fail() : fd;
}

void host_close(int fd)
{
    close(fd); /* never retried: on Linux the fd is gone even on EINTR */
}

void host_shutdown(int fd)
{
    shutdown(fd, SHUT_RDWR);
}

void host_abort(int fd)
{
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

int host_set_timeouts(int fd, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)
        return fail();
    return 0;
}

int host_set_nonblocking(int fd, bool on)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0)
        return fail();
    int want = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
    return want != flags && fcntl(fd, F_SETFL, want) < 0 ? fail() : 0;
}

int host_bind(int fd, host_addr a)
{
    struct sockaddr_in sin = to_sockaddr(a);
    return bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 ? fail() : 0;
}

int host_listen(int fd, int backlog)
{
    /* Linux holds backlog + 1 established connections unaccepted (the queue is full when it
     * holds more than backlog), lwIP exactly backlog. A kernel backlog of 0 is avoided: some
     * kernels then see every SYN as a flood and connect only through SYN cookies. */
    return listen(fd, backlog > 1 ? backlog - 1 : 1) < 0 ? fail() : 0;
}

int host_accept(int fd, host_addr *peer, bool clear_timeouts)
{
    struct sockaddr_in sin;
    int nfd;
    do {
        socklen_t len = sizeof sin;
        nfd = accept4(fd, (struct sockaddr *)&sin, &len, SOCK_CLOEXEC);
    } while (nfd < 0 && errno == EINTR);
    if (nfd < 0)
        return fail();
    /* lwIP's new netconn has no timeouts, whatever the listener has. */
    int rc = clear_timeouts ? host_set_timeouts(nfd, 0) : 0;
    if (rc < 0) {
        close(nfd);
        return rc;
    }
    *peer = from_sockaddr(&sin);
    return nfd;
}

int host_connect(int fd, host_addr a)
{
    struct sockaddr_in sin = to_sockaddr(a);
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0)
        return 0;
    if (errno != EINTR)
        return fail();
    /* Interrupted: the connect goes on in the kernel; wait for its outcome. */
    struct pollfd p = {fd, POLLOUT, 0};
    while (poll(&p, 1, -1) < 0 && errno == EINTR)
        ;
    return host_connect_result(fd);
}

int host_connect_result(int fd)
{
    struct pollfd p = {fd, POLLOUT, 0};
    if (poll(&p, 1, 0) == 0)
        return -host_errno_to_device(EINPROGRESS);
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return fail();
    if (err)
        return -host_errno_to_device(err);
    struct sockaddr_in sin;
    len = sizeof sin;
    /* Failed with the error already taken by someone else: report it as the reset it was. */
    return getpeername(fd, (struct sockaddr *)&sin, &len) < 0 ? -host_errno_to_device(ECONNRESET) : 0;
}

int host_local_addr(int fd, host_addr *a)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    if (getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
        return fail();
    *a = from_sockaddr(&sin);
    return 0;
}

ssize_t host_sendto(int fd, const void *buf, size_t len, host_addr to)
{
    struct sockaddr_in sin = to_sockaddr(to);
    ssize_t n;
    while ((n = sendto(fd, buf, len, MSG_NOSIGNAL, (struct sockaddr *)&sin, sizeof sin)) < 0 && errno == EINTR)
        ;
    return n < 0 ? fail() : n;
}

ssize_t host_recvfrom(int fd, void *buf, size_t len, host_addr *from)
{
    struct sockaddr_in sin = {0};
    socklen_t slen = sizeof sin;
    ssize_t n;
    while ((n = recvfrom(fd, buf, len, 0, (struct sockaddr *)&sin, &slen)) < 0 && errno == EINTR)
        ;
    if (n < 0)
        return fail();
    /* A stream socket does not say who sent: that is its peer. */
    if (slen == 0 || sin.sin_family != AF_INET) {
        slen = sizeof sin;
        getpeername(fd, (struct sockaddr *)&sin, &slen);
    }
    *from = from_sockaddr(&sin);
    return n;
}

int host_unsent_bytes(int fd)
{
    int queued = 0;
    return ioctl(fd, SIOCOUTQ, &queued) < 0 ? fail() : queued;
}

/* host_opt → Linux (level, name). */
static const struct {
    int level, name;
} linux_opts[] = {
    [HOST_OPT_REUSEADDR] = {SOL_SOCKET, SO_REUSEADDR},
    [HOST_OPT_KEEPALIVE] = {SOL_SOCKET, SO_KEEPALIVE},
    [HOST_OPT_BROADCAST] = {SOL_SOCKET, SO_BROADCAST},
    [HOST_OPT_RCVBUF] = {SOL_SOCKET, SO_RCVBUF},
    [HOST_OPT_SNDTIMEO] = {SOL_SOCKET, SO_SNDTIMEO},
    [HOST_OPT_RCVTIMEO] = {SOL_SOCKET, SO_RCVTIMEO},
    [HOST_OPT_NO_CHECK] = {SOL_SOCKET, SO_NO_CHECK},
    [HOST_OPT_NODELAY] = {IPPROTO_TCP, TCP_NODELAY},
    [HOST_OPT_KEEPIDLE] = {IPPROTO_TCP, TCP_KEEPIDLE},
    [HOST_OPT_KEEPINTVL] = {IPPROTO_TCP, TCP_KEEPINTVL},
    [HOST_OPT_KEEPCNT] = {IPPROTO_TCP, TCP_KEEPCNT},
    [HOST_OPT_IP_TOS] = {IPPROTO_IP, IP_TOS},
    [HOST_OPT_IP_TTL] = {IPPROTO_IP, IP_TTL},
    [HOST_OPT_ADD_MEMBERSHIP] = {IPPROTO_IP, IP_ADD_MEMBERSHIP},
    [HOST_OPT_DROP_MEMBERSHIP] = {IPPROTO_IP, IP_DROP_MEMBERSHIP},
    [HOST_OPT_MULTICAST_TTL] = {IPPROTO_IP, IP_MULTICAST_TTL},
    [HOST_OPT_MULTICAST_IF] = {IPPROTO_IP, IP_MULTICAST_IF},
    [HOST_OPT_MULTICAST_LOOP] = {IPPROTO_IP, IP_MULTICAST_LOOP},
};

int host_setsockopt_int(int fd, host_opt opt, int value)
{
    if (opt == HOST_OPT_SNDTIMEO || opt == HOST_OPT_RCVTIMEO) {
        struct timeval tv = {value / 1000, (value % 1000) * 1000};
        return setsockopt(fd, linux_opts[opt].level, linux_opts[opt].name, &tv, sizeof tv) < 0 ? fail() : 0;
    }
    return setsockopt(fd, linux_opts[opt].level, linux_opts[opt].name, &value, sizeof value) < 0 ? fail() : 0;
}

int host_setsockopt_bytes(int fd, host_opt opt, const void *value, size_t len)
{
    return setsockopt(fd, linux_opts[opt].level, linux_opts[opt].name, value, (socklen_t)len) < 0 ? fail() : 0;
}

/* Waits until fd is ready for `events`, at most timeout_ms (< 0: forever), riding out signals. */
static int wait_for(int fd, short events, int timeout_ms)
{
    uint64_t deadline = host_monotonic_us() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000u;
    for (;;) {
        struct pollfd p = {fd, events, 0};
        uint64_t now = host_monotonic_us();
        int left = timeout_ms < 0 ? -1 : now >= deadline ? 0 : (int)((deadline - now + 999) / 1000);
        int rc = poll(&p, 1, left);
        if (rc >= 0 || errno != EINTR)
            return rc < 0 ? fail() : rc;
    }
}

int host_wait_writable(int fd, int timeout_ms)
{
    return wait_for(fd, POLLOUT, timeout_ms);
}

int host_wait_readable(int fd, int timeout_ms)
{
    return wait_for(fd, POLLIN, timeout_ms);
}

int host_resolve(const char *name, uint32_t *ip)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(name, NULL, &hints, &res) != 0 || !res)
        return -host_errno_to_device(EHOSTUNREACH);
    *ip = ntohl(((struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr);
    freeaddrinfo(res);
    return 0;
}
