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
#include <pthread.h>
#include <stdatomic.h>
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

/* The host side of one socket: what the seam knows of it, and what a hook (trace, fault, pcap)
 * is shown. The kernel fd and the id are fixed for its life; hostsock.c keeps the host-side
 * addresses, usocket.c the device-side ones (the virtual LAN's) once it has mapped them. */
typedef struct host_sock {
    int fd;
    uint32_t id;           /* 1, 2, ... in creation order: names the socket in a trace */
    int fileno;            /* the device's fileno() once the socket object exists (sock.c), else 0 */
    int type;              /* 1 stream, 2 datagram */
    host_addr local, peer; /* host side (kernel), when known; {0, 0} otherwise (a delayed
                              accepted socket's: the real connection's) */
    host_addr dev_local, dev_peer; /* device side, when known (a datagram socket: the last
                                      destination named) */
    bool internal;         /* the library's own helper (host_socket_internal), not the program's */
} host_sock;

/* Sockets (hostsock.c). The new socket blocks. 0 with *s filled, or < 0. */
int host_socket(host_sock *s, int type);
/* A socket of the library's own (e.g. the fault module's sinks): made past the hooks, with no id,
 * and marked internal, so no observer shows it or counts it. */
int host_socket_internal(host_sock *s, int type);
void host_close(host_sock *s);
void host_shutdown(host_sock *s);                /* wake every call blocked on s */
void host_abort(host_sock *s);                   /* close with RST (SO_LINGER 0) */
/* For fault injection: the kernel states a peer's RST and FIN leave behind, made locally. */
void host_disconnect(host_sock *s);              /* RST both ways: recv/send ECONNRESET, poll HUP */
void host_shutdown_read(host_sock *s);           /* as after a FIN: recv 0, poll readable */
bool host_nonblocking(const host_sock *s);       /* whether the fd is in O_NONBLOCK mode */
int host_set_nonblocking(host_sock *s, bool on);
int host_set_timeouts(host_sock *s, int ms);     /* SO_RCVTIMEO and SO_SNDTIMEO; 0: none */
int host_bind(host_sock *s, host_addr a);
int host_listen(host_sock *s, int backlog);      /* backlog: connections held unaccepted (>= 2 exact) */
/* → 0 with *child a new blocking socket. Linux copies the listener's SO_RCVTIMEO/SO_SNDTIMEO to
 * it; with clear_timeouts (the listener has some) they are taken off again. */
int host_accept(host_sock *listener, host_sock *child, bool clear_timeouts);
int host_connect(host_sock *s, host_addr a);
int host_connect_result(host_sock *s);           /* 0 connected, -EINPROGRESS pending, -err failed */
int host_local_addr(host_sock *s, host_addr *a);
/* The kernel's errno of the call that just failed, as a negative device errno. */
int host_errno(void);

/* The hook points: one per kind of event, each wrapped around the real operation, which it gets
 * as `next` (it may call it, or not, and may change what it returns), as curl's connection
 * filters wrap the socket filter. Installed once by the modules that observe or fault the seam
 * (host_hooks_install, NULL to remove); with none installed each seam call pays one predictable
 * branch, a relaxed load of host_hooks_on. */
struct host_waiter;
/* One transfer: addr is NULL on a connected socket, the destination of a sendto, or where a
 * recvfrom puts the source. */
typedef ssize_t (*host_io_fn)(host_sock *s, void *buf, size_t len, int flags, host_addr *addr);
enum {
    HOST_IO_DONTWAIT = 1, /* send/recv flags: never wait, whatever the socket's mode */
    HOST_IO_PEEK = 2,     /* recv through a hook's next: look, leave the data queued */
    HOST_IO_RECORD = 4,   /* a TLS layer's record bytes, not the program's: the trace tells them apart */
};
struct host_hooks {
    int (*socket)(host_sock *s, int type, int (*next)(host_sock *, int));
    int (*connect)(host_sock *s, host_addr to, int (*next)(host_sock *, host_addr));
    /* How a pending connect ended, read after the kernel's connect left it in progress. */
    int (*connect_result)(host_sock *s, int (*next)(host_sock *));
    int (*accept)(host_sock *listener, host_sock *child, bool clear_timeouts,
                  int (*next)(host_sock *, host_sock *, bool));
    ssize_t (*send)(host_sock *s, const void *buf, size_t len, int flags, host_addr *to, host_io_fn next);
    ssize_t (*recv)(host_sock *s, void *buf, size_t len, int flags, host_addr *from, host_io_fn next);
    void (*close)(host_sock *s, void (*next)(host_sock *));
    int (*wait)(const struct host_waiter *w, uint64_t deadline,
                int (*next)(const struct host_waiter *, uint64_t));
    int (*resolve)(const char *name, uint32_t *ip, int (*next)(const char *, uint32_t *));
    /* Not around a call: the outcome of a handshake (0 or an enum tls_outcome), which it may
     * replace. */
    int (*tls_handshake)(host_sock *s, int outcome);
    /* Not around a call: a fault rule fired on s (NULL: not a socket's event), rule counted from
     * 1 in the set's order. */
    void (*fault)(const host_sock *s, const char *effect, int rule);
};
extern const struct host_hooks *_Atomic host_hooks_on;
void host_hooks_install(const struct host_hooks *hooks);
/* The observers' layer, outside the one above (hooks.c): its hooks pass each call on to the inner
 * table's hook, when it has one, so they see what a fault made of the call. */
void host_hooks_install_outer(const struct host_hooks *hooks);
const struct host_hooks *host_hooks_inner(void); /* the inner table, or NULL */
/* Tells the outer layer (if any) that a fault rule fired: the seam a fault module reports
 * through without knowing who listens. */
void host_fault_fired(const host_sock *s, const char *effect, int rule);

static inline const struct host_hooks *host_hooked(void)
{
    return __builtin_expect(atomic_load_explicit(&host_hooks_on, memory_order_relaxed) != NULL, 0)
               ? atomic_load_explicit(&host_hooks_on, memory_order_acquire) : NULL;
}

/* The hooked paths, out of line (and cold) so the plain ones stay short. */
ssize_t host_send_hooked(host_sock *s, const void *buf, size_t len, int flags);
ssize_t host_recv_hooked(host_sock *s, void *buf, size_t len, int flags);

/* For the helpers between a socket call and its syscall: each stack frame still open during the
 * syscall costs a mispredicted return when it comes back, because the kernel refills the return
 * stack buffer on the way out (docs/performance.md has the measurement). */
#if defined(__GNUC__)
#define UPY_HOT_INLINE static inline __attribute__((always_inline))
#else
#define UPY_HOT_INLINE static inline
#endif

/* send/recv on a connected socket: bytes, or a negative device errno (-EAGAIN when it would
 * wait and may not). Inline: they are every blocking send and recv, and no stack frame may sit
 * between the caller and the syscall (above). */
UPY_HOT_INLINE ssize_t host_send(host_sock *s, const void *buf, size_t len, int flags)
{
    if (__builtin_expect(atomic_load_explicit(&host_hooks_on, memory_order_relaxed) != NULL, 0))
        return host_send_hooked(s, buf, len, flags);
    ssize_t n;
    while ((n = send(s->fd, buf, len, MSG_NOSIGNAL | (flags & HOST_IO_DONTWAIT ? MSG_DONTWAIT : 0))) < 0 &&
           errno == EINTR)
        ;
    return n < 0 ? host_errno() : n;
}

UPY_HOT_INLINE ssize_t host_recv(host_sock *s, void *buf, size_t len, int flags)
{
    if (__builtin_expect(atomic_load_explicit(&host_hooks_on, memory_order_relaxed) != NULL, 0))
        return host_recv_hooked(s, buf, len, flags);
    ssize_t n;
    while ((n = recv(s->fd, buf, len, flags & HOST_IO_DONTWAIT ? MSG_DONTWAIT : 0)) < 0 && errno == EINTR)
        ;
    return n < 0 ? host_errno() : n;
}

ssize_t host_sendto(host_sock *s, const void *buf, size_t len, host_addr to);
ssize_t host_recvfrom(host_sock *s, void *buf, size_t len, host_addr *from);
int host_unsent_bytes(const host_sock *s);       /* bytes queued and not yet acknowledged */
/* The TCP connection is CLOSED: reset (a RST came, or host_disconnect), or it never connected.
 * Linux then has purged its write queue, but SIOCOUTQ (write_seq - snd_una) still counts it. */
bool host_tcp_closed(const host_sock *s);
int host_setsockopt_int(host_sock *s, host_opt opt, int value);
int host_setsockopt_bytes(host_sock *s, host_opt opt, const void *value, size_t len);
int host_resolve(const char *name, uint32_t *ip); /* real DNS (UPYSOCK_NET=host only) */
/* A name the virtual LAN answers itself (a rule, "localhost", the sandbox) passes the resolve hook
 * point all the same, so every lookup of a name is one event whoever answers it, and the hooks
 * see the answer: *answer, or none (NULL: EAI_FAIL, as a name DNS does not know). 0, or the
 * lookup's error (a hook's, e.g. an injected failure). */
int host_resolve_elsewhere(const char *name, const uint32_t *answer);

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
/* Watch s for `events` (HOST_EV_IN|HOST_EV_OUT; HUP and ERR always come); `watched` says
 * whether s is already in the set. */
int host_reactor_watch(int reactor, const host_sock *s, int events, uint64_t key, bool watched);
int host_reactor_unwatch(int reactor, const host_sock *s);
void host_clear_error(const host_sock *s); /* take a pending SO_ERROR (UDP ICMP noise) */

/* Deadlines and the one wait (hostwait.c). A deadline is an absolute CLOCK_MONOTONIC time in
 * microseconds; every timeout becomes one when its call begins, and only host_wait turns it back
 * into time left, so a wait cut by a signal or re-entered by its caller ends when it should. */
typedef uint64_t host_deadline;
#define HOST_NEVER UINT64_MAX
host_deadline host_deadline_in_ms(int64_t ms); /* < 0: HOST_NEVER */
host_deadline host_deadline_in_us(uint64_t us);
int host_deadline_left_ms(host_deadline d);    /* -1 for HOST_NEVER, 0 when passed, rounded up */

/* What a wait waits on. */
enum host_wait_on {
    HOST_WAIT_SLEEP,   /* nothing: the deadline */
    HOST_WAIT_SOCK,    /* a socket ready for `events` (HOST_EV_IN / HOST_EV_OUT; an error counts) */
    HOST_WAIT_NOTE,    /* a note posted (host_note_new) */
    HOST_WAIT_REACTOR, /* a reactor's events, into out[0..max) */
    HOST_WAIT_COND,    /* a signal of cond, mutex held by the caller (one wake-up per call) */
};
#define HOST_WAIT_MAX_EVENTS 64
typedef struct host_waiter {
    enum host_wait_on on;
    const host_sock *sock; /* SOCK */
    int fd;                /* NOTE: the note; REACTOR: the reactor */
    int events;            /* SOCK */
    host_event *out;       /* REACTOR */
    int max;               /* REACTOR: at most HOST_WAIT_MAX_EVENTS are taken */
    pthread_cond_t *cond;  /* COND */
    pthread_mutex_t *mutex;
} host_waiter;
/* Waits for w until d: > 0 when it happened (SOCK and NOTE 1, REACTOR the number of events, COND 1 for a
 * wake-up, maybe spurious), 0 when the deadline came first (always for SLEEP), or a negative
 * device errno. Signals never end it early. */
int host_wait(const host_waiter *w, host_deadline d);
void host_sleep_us(uint64_t us);

/* Clocks, threads (hostos.c). */
uint64_t host_monotonic_us(void);
int64_t host_realtime_s(void);
int host_thread_spawn(void *(*fn)(void *), void *arg, size_t stack_size); /* detached */
unsigned long host_thread_id(void);
unsigned long host_kernel_tid(void); /* gettid(): the number gdb, top and strace show */
void host_write_line(int fd, const char *line); /* one write(2), for logs */
int host_open_append(const char *path);         /* fd, or negative */
bool host_fd_is_open(int fd);
/* A note: an fd one thread posts to and another waits on (host_wait, HOST_WAIT_NOTE)
 * until it is taken. For waits whose end is news from another thread, not I/O. */
int host_note_new(void);
void host_note_post(int note);
void host_note_take(int note);
void host_note_free(int note);

#endif
