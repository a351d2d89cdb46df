/*
 * The host border: the only interface to kernel sockets, clocks and threads.
 *
 * Every call returns a value >= 0 on success or a NEGATIVE DEVICE errno (UERRNO_*, already
 * translated through the table in hosterr.c). Kernel errno values never cross this border.
 * Addresses are IPv4 in host byte order.
 */
#ifndef UPYSOCK_HOST_H
#define UPYSOCK_HOST_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

typedef struct host_addr {
    uint32_t ip; /* host byte order: 127.0.0.1 is 0x7f000001 */
    uint16_t port;
} host_addr;

/* Errno translation (hosterr.c): kernel errno → device errno. */
int host_errno_to_device(int kernel_errno);

/* Options the device layer can ask for, named independently of both numberings. */
typedef enum host_opt {
    HOST_OPT_REUSEADDR,
    HOST_OPT_KEEPALIVE,
    HOST_OPT_BROADCAST,
    HOST_OPT_RCVBUF,
    HOST_OPT_SNDTIMEO, /* int value: milliseconds */
    HOST_OPT_RCVTIMEO, /* int value: milliseconds */
    HOST_OPT_NO_CHECK,
    HOST_OPT_NODELAY,
    HOST_OPT_KEEPIDLE, /* seconds */
    HOST_OPT_KEEPINTVL,
    HOST_OPT_KEEPCNT,
    HOST_OPT_IP_TOS,
    HOST_OPT_IP_TTL,
    HOST_OPT_ADD_MEMBERSHIP,  /* bytes: 8-byte ip_mreq */
    HOST_OPT_DROP_MEMBERSHIP, /* bytes: 8-byte ip_mreq */
    HOST_OPT_MULTICAST_TTL,
    HOST_OPT_MULTICAST_IF,    /* bytes: 4-byte in_addr */
    HOST_OPT_MULTICAST_LOOP,
} host_opt;

/* Sockets (hostsock.c). type: 1 stream, 2 datagram. The new fd blocks. */
int host_socket(int type);
void host_close(int fd);
void host_shutdown(int fd);                /* wake every call blocked on fd */
void host_abort(int fd);                   /* close with RST (SO_LINGER 0) */
int host_set_nonblocking(int fd, bool on);
int host_set_timeouts(int fd, int ms);     /* SO_RCVTIMEO and SO_SNDTIMEO; 0: none */
int host_bind(int fd, host_addr a);
int host_listen(int fd, int backlog);      /* backlog: connections held unaccepted (>= 2 exact) */
/* → a new blocking fd. Linux copies the listener's SO_RCVTIMEO/SO_SNDTIMEO to it; with
 * clear_timeouts (the listener has some) they are taken off again. */
int host_accept(int fd, host_addr *peer, bool clear_timeouts);
int host_connect(int fd, host_addr a);
int host_connect_result(int fd);           /* 0 connected, -EINPROGRESS pending, -err failed */
int host_local_addr(int fd, host_addr *a);
/* The kernel's errno of the call that just failed, as a negative device errno. */
int host_errno(void);

/* send/recv on a connected socket, inline: they are every blocking send and recv, and each stack
 * frame between the caller and the syscall costs a mispredicted return when the syscall comes
 * back (the kernel refills the return stack buffer on the way out; docs/performance.md). */
static inline ssize_t host_send(int fd, const void *buf, size_t len)
{
    ssize_t n;
    while ((n = send(fd, buf, len, MSG_NOSIGNAL)) < 0 && errno == EINTR)
        ;
    return n < 0 ? host_errno() : n;
}

static inline ssize_t host_recv(int fd, void *buf, size_t len)
{
    ssize_t n;
    while ((n = recv(fd, buf, len, 0)) < 0 && errno == EINTR)
        ;
    return n < 0 ? host_errno() : n;
}

ssize_t host_sendto(int fd, const void *buf, size_t len, host_addr to);
ssize_t host_recvfrom(int fd, void *buf, size_t len, host_addr *from);
int host_unsent_bytes(int fd);             /* bytes queued and not yet acknowledged */
int host_setsockopt_int(int fd, host_opt opt, int value);
int host_setsockopt_bytes(int fd, host_opt opt, const void *value, size_t len);
int host_wait_writable(int fd, int timeout_ms); /* 1 writable (or failed), 0 timed out; < 0 ms: forever */
int host_wait_readable(int fd, int timeout_ms); /* 1 readable (data, EOF or failed), 0 timed out */
int host_resolve(const char *name, uint32_t *ip); /* real DNS (UPYSOCK_NET=host only) */

/* Readiness (reactor.c): one epoll set per poll object, level-triggered. Events are named in
 * host terms here and given device meaning in uselect.c. */
enum {
    HOST_EV_IN = 1,  /* readable, or EOF */
    HOST_EV_OUT = 2, /* writable */
    HOST_EV_HUP = 4, /* hang-up: for TCP, the connection is gone (reset, refused, aborted) */
    HOST_EV_ERR = 8, /* a pending socket error */
};
typedef struct host_event {
    uint64_t key;
    int events;
} host_event;
int host_reactor_new(void); /* → a reactor handle (an fd) */
void host_reactor_free(int reactor);
/* Watch fd for `events` (HOST_EV_IN|HOST_EV_OUT; HUP and ERR always come); `watched` says
 * whether fd is already in the set. */
int host_reactor_watch(int reactor, int fd, int events, uint64_t key, bool watched);
int host_reactor_unwatch(int reactor, int fd);
/* Up to max ready events, waiting at most timeout_ms (< 0: forever). 0 on timeout or signal. */
int host_reactor_wait(int reactor, host_event *out, int max, int timeout_ms);
void host_clear_error(int fd); /* take a pending SO_ERROR (UDP ICMP noise) */

/* Clocks, sleeping, threads (hostos.c). */
uint64_t host_monotonic_us(void);
int64_t host_realtime_s(void);
void host_sleep_us(uint64_t us);
int host_thread_spawn(void *(*fn)(void *), void *arg, size_t stack_size); /* detached */
unsigned long host_thread_id(void);
void host_write_line(int fd, const char *line); /* one write(2), for logs */
int host_open_append(const char *path);         /* fd, or negative */
bool host_fd_is_open(int fd);

#endif
