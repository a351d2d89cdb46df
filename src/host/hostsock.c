/*
 * Kernel sockets: the seam. Every function takes the socket's host_sock and returns >= 0 or a
 * negative device errno (hosterr.c); EINTR is retried here, so the device layer never sees it.
 * The calls that are hook points (connect, accept, send, recv, close, resolve) go to the
 * installed hooks first when there are any, with the kernel call as their `next`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "host.h"
#include "upysock/uerrno.h"

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

static atomic_uint_least32_t last_id;

static void sock_init(host_sock *s, int fd, int type)
{
    *s = (host_sock){.fd = fd, .id = (uint32_t)atomic_fetch_add_explicit(&last_id, 1, memory_order_relaxed) + 1,
                     .type = type};
}

static int socket_made(host_sock *s, int type, bool internal)
{
    int fd = socket(AF_INET, (type == 2 ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail();
    if (internal) /* no id: the trace's numbering is the program's sockets' */
        *s = (host_sock){.fd = fd, .type = type, .internal = true};
    else
        sock_init(s, fd, type);
    return 0;
}

static int socket_kernel(host_sock *s, int type)
{
    return socket_made(s, type, false);
}

int host_socket(host_sock *s, int type)
{
    const struct host_hooks *h = host_hooked();
    return h && h->socket ? h->socket(s, type, socket_kernel) : socket_kernel(s, type);
}

int host_socket_internal(host_sock *s, int type)
{
    return socket_made(s, type, true);
}

static void close_kernel(host_sock *s)
{
    close(s->fd); /* never retried: on Linux the fd is gone even on EINTR */
}

void host_close(host_sock *s)
{
    const struct host_hooks *h = host_hooked();
    if (h && h->close)
        h->close(s, close_kernel);
    else
        close_kernel(s);
}

void host_shutdown(host_sock *s)
{
    shutdown(s->fd, SHUT_RDWR);
}

void host_abort(host_sock *s)
{
    struct linger lg = {1, 0};
    setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    host_close(s);
}

/* connect(AF_UNSPEC) on an established TCP socket is tcp_disconnect(): it sends RST, purges both
 * queues, sets the socket's error to ECONNRESET and leaves it CLOSED, which is exactly the state a
 * received RST leaves (tcp_reset): recv and send fail with ECONNRESET, poll reports HUP. */
void host_disconnect(host_sock *s)
{
    struct sockaddr sa = {.sa_family = AF_UNSPEC};
    connect(s->fd, &sa, sizeof sa);
}

void host_shutdown_read(host_sock *s)
{
    shutdown(s->fd, SHUT_RD);
}

bool host_nonblocking(const host_sock *s)
{
    int flags = fcntl(s->fd, F_GETFL);
    return flags >= 0 && (flags & O_NONBLOCK);
}

static int set_timeouts(int fd, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)
        return fail();
    return 0;
}

int host_set_timeouts(host_sock *s, int ms)
{
    return set_timeouts(s->fd, ms);
}

int host_set_nonblocking(host_sock *s, bool on)
{
    int flags = fcntl(s->fd, F_GETFL);
    if (flags < 0)
        return fail();
    int want = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
    return want != flags && fcntl(s->fd, F_SETFL, want) < 0 ? fail() : 0;
}

int host_bind(host_sock *s, host_addr a)
{
    struct sockaddr_in sin = to_sockaddr(a);
    if (bind(s->fd, (struct sockaddr *)&sin, sizeof sin) < 0)
        return fail();
    s->local = a; /* port 0 stays 0: asking the kernel would cost a call on every bind */
    return 0;
}

int host_listen(host_sock *s, int backlog)
{
    /* Linux holds backlog + 1 established connections unaccepted (the queue is full when it
     * holds more than backlog), lwIP exactly backlog. A kernel backlog of 0 is avoided: some
     * kernels then see every SYN as a flood and connect only through SYN cookies. */
    return listen(s->fd, backlog > 1 ? backlog - 1 : 1) < 0 ? fail() : 0;
}

static int accept_kernel(host_sock *listener, host_sock *child, bool clear_timeouts)
{
    struct sockaddr_in sin;
    int nfd;
    do {
        socklen_t len = sizeof sin;
        nfd = accept4(listener->fd, (struct sockaddr *)&sin, &len, SOCK_CLOEXEC);
    } while (nfd < 0 && errno == EINTR);
    if (nfd < 0)
        return fail();
    /* lwIP's new netconn has no timeouts, whatever the listener has. */
    int rc = clear_timeouts ? set_timeouts(nfd, 0) : 0;
    if (rc < 0) {
        close(nfd);
        return rc;
    }
    sock_init(child, nfd, 1);
    child->local = listener->local;
    child->peer = from_sockaddr(&sin);
    return 0;
}

int host_accept(host_sock *listener, host_sock *child, bool clear_timeouts)
{
    const struct host_hooks *h = host_hooked();
    return h && h->accept ? h->accept(listener, child, clear_timeouts, accept_kernel)
                          : accept_kernel(listener, child, clear_timeouts);
}

static int connect_kernel(host_sock *s, host_addr a)
{
    struct sockaddr_in sin = to_sockaddr(a);
    s->peer = a;
    if (connect(s->fd, (struct sockaddr *)&sin, sizeof sin) == 0)
        return 0;
    if (errno != EINTR)
        return fail();
    /* Interrupted: the connect goes on in the kernel; wait for its outcome. */
    host_wait(&(host_waiter){.on = HOST_WAIT_SOCK, .sock = s, .events = HOST_EV_OUT}, HOST_NEVER);
    return host_connect_result(s);
}

int host_connect(host_sock *s, host_addr a)
{
    const struct host_hooks *h = host_hooked();
    return h && h->connect ? h->connect(s, a, connect_kernel) : connect_kernel(s, a);
}
static int connect_result_kernel(host_sock *s)
{
    int fd = s->fd;
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

int host_connect_result(host_sock *s)
{
    const struct host_hooks *h = host_hooked();
    return h && h->connect_result ? h->connect_result(s, connect_result_kernel) : connect_result_kernel(s);
}

int host_local_addr(host_sock *s, host_addr *a)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    if (getsockname(s->fd, (struct sockaddr *)&sin, &len) < 0)
        return fail();
    *a = from_sockaddr(&sin);
    return 0;
}

/* The kernel's transfers, as the hooks get them for `next`. */
static ssize_t send_kernel(host_sock *s, void *buf, size_t len, int flags, host_addr *to)
{
    int how = MSG_NOSIGNAL | (flags & HOST_IO_DONTWAIT ? MSG_DONTWAIT : 0);
    struct sockaddr_in sin = to ? to_sockaddr(*to) : (struct sockaddr_in){0};
    ssize_t n;
    while ((n = sendto(s->fd, buf, len, how, to ? (struct sockaddr *)&sin : NULL, to ? sizeof sin : 0)) < 0 &&
           errno == EINTR)
        ;
    return n < 0 ? fail() : n;
}

static ssize_t recv_kernel(host_sock *s, void *buf, size_t len, int flags, host_addr *from)
{
    struct sockaddr_in sin = {0};
    socklen_t slen = sizeof sin;
    ssize_t n;
    int how = (flags & HOST_IO_DONTWAIT ? MSG_DONTWAIT : 0) | (flags & HOST_IO_PEEK ? MSG_PEEK : 0);
    while ((n = recvfrom(s->fd, buf, len, how,
                         from ? (struct sockaddr *)&sin : NULL, from ? &slen : NULL)) < 0 && errno == EINTR)
        ;
    if (n < 0)
        return fail();
    /* A stream socket does not say who sent: that is its peer, as connect or accept recorded it
     * (the kernel's peer may be a fault's delay line, host/wire.c). */
    if (from)
        *from = slen == 0 || sin.sin_family != AF_INET ? s->peer : from_sockaddr(&sin);
    return n;
}

static ssize_t send_seam(host_sock *s, const void *buf, size_t len, int flags, host_addr *to)
{
    const struct host_hooks *h = host_hooked();
    return h && h->send ? h->send(s, buf, len, flags, to, send_kernel) : send_kernel(s, (void *)buf, len, flags, to);
}

static ssize_t recv_seam(host_sock *s, void *buf, size_t len, int flags, host_addr *from)
{
    const struct host_hooks *h = host_hooked();
    return h && h->recv ? h->recv(s, buf, len, flags, from, recv_kernel) : recv_kernel(s, buf, len, flags, from);
}

__attribute__((cold)) ssize_t host_send_hooked(host_sock *s, const void *buf, size_t len, int flags)
{
    return send_seam(s, buf, len, flags, NULL);
}

__attribute__((cold)) ssize_t host_recv_hooked(host_sock *s, void *buf, size_t len, int flags)
{
    return recv_seam(s, buf, len, flags, NULL);
}

ssize_t host_sendto(host_sock *s, const void *buf, size_t len, host_addr to)
{
    return send_seam(s, buf, len, 0, &to);
}

ssize_t host_recvfrom(host_sock *s, void *buf, size_t len, host_addr *from)
{
    return recv_seam(s, buf, len, 0, from);
}

int host_unsent_bytes(const host_sock *s)
{
    int queued = 0;
    return ioctl(s->fd, SIOCOUTQ, &queued) < 0 ? fail() : queued;
}

bool host_tcp_closed(const host_sock *s)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    return getsockopt(s->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && ti.tcpi_state == TCP_CLOSE;
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

int host_setsockopt_int(host_sock *s, host_opt opt, int value)
{
    int fd = s->fd;
    if (opt == HOST_OPT_SNDTIMEO || opt == HOST_OPT_RCVTIMEO) {
        struct timeval tv = {value / 1000, (value % 1000) * 1000};
        return setsockopt(fd, linux_opts[opt].level, linux_opts[opt].name, &tv, sizeof tv) < 0 ? fail() : 0;
    }
    return setsockopt(fd, linux_opts[opt].level, linux_opts[opt].name, &value, sizeof value) < 0 ? fail() : 0;
}

int host_setsockopt_bytes(host_sock *s, host_opt opt, const void *value, size_t len)
{
    return setsockopt(s->fd, linux_opts[opt].level, linux_opts[opt].name, value, (socklen_t)len) < 0 ? fail() : 0;
}

/* A name that does not resolve is lwIP's getaddrinfo failure, whoever was asked. */
static int resolve_kernel(const char *name, uint32_t *ip)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(name, NULL, &hints, &res) != 0 || !res)
        return -UERRNO_EAI_FAIL;
    *ip = ntohl(((struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr);
    freeaddrinfo(res);
    return 0;
}

int host_resolve(const char *name, uint32_t *ip)
{
    const struct host_hooks *h = host_hooked();
    return h && h->resolve ? h->resolve(name, ip, resolve_kernel) : resolve_kernel(name, ip);
}

static int answered_elsewhere(const char *name, uint32_t *ip)
{
    (void)name;
    (void)ip; /* holds the answer already */
    return 0;
}

static int refused_elsewhere(const char *name, uint32_t *ip)
{
    (void)name;
    (void)ip;
    return -UERRNO_EAI_FAIL;
}

int host_resolve_elsewhere(const char *name, const uint32_t *answer)
{
    const struct host_hooks *h = host_hooked();
    int (*next)(const char *, uint32_t *) = answer ? answered_elsewhere : refused_elsewhere;
    uint32_t ip = answer ? *answer : 0;
    return h && h->resolve ? h->resolve(name, &ip, next) : next(name, &ip);
}
