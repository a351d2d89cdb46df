/*
 * The socket object behind a usocket handle, shared by usocket.c, uselect.c and ussl.c.
 *
 * A plain socket is one allocation: the object (what the program holds: Python-level timeout,
 * references) and its core (the kernel fd, the device-side connection state, the fileno slot,
 * the poll watchers). wrap_socket makes a second object that shares the core, as the device's
 * SSL object shares the lwIP fd, and holds a reference to the plain one so the core outlives it.
 *
 * Closing: calls in flight are counted on the core. close() marks the core closed, wakes blocked
 * calls (shutdown) and the kernel fd is closed by whoever leaves last, so an fd number is never
 * reused while a call could still use it.
 */
#ifndef UPYSOCK_SOCK_H
#define UPYSOCK_SOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "host/host.h"
#include "upysock/usocket.h"

/* Device-side connection states (what lwIP's netconn knows), read by poll and the I/O paths. */
enum sock_state {
    SOCK_FRESH,      /* TCP, never connected nor listening: polls as nothing */
    SOCK_LISTENING,
    SOCK_CONNECTING, /* a connect is in flight */
    SOCK_CONNECTED,
    SOCK_FAILED,     /* refused / reset / aborted: core->fatal holds the sticky errno */
    SOCK_DATAGRAM,   /* UDP: no connection state */
};

struct ucore;

/* Someone (a poll registration) told about state changes and close, under the core's lock. */
struct sock_watcher {
    struct sock_watcher *next;
    void (*changed)(struct sock_watcher *w, struct ucore *core);
};

struct ucore {
    atomic_uint io;          /* (calls in flight + 1 owner) << 1 | closed */
    atomic_bool fd_gone;     /* the fd was closed: a call refused after that must not close it
                                again (the number may be another file's by then) */
    host_sock hs;            /* the host side (kernel fd, id, addresses), fixed for the core's
                                life but for the addresses; hs.type is USOCKET_SOCK_STREAM or
                                USOCKET_SOCK_DGRAM */
    int slot;                /* fileno() - fileno_base */
    atomic_int state;        /* enum sock_state */
    atomic_int fatal;        /* sticky device errno in SOCK_FAILED */
    atomic_bool eof;         /* the peer's FIN was read: lwIP's rcvevent is back to 0, so the
                                socket no longer polls readable (recv still returns b'') */
    atomic_int kernel_mode;  /* what the fd does now: -1 blocks, 0 non-blocking, > 0 ms timeouts */
    atomic_int kernel_timeouts; /* SO_RCVTIMEO/SO_SNDTIMEO on the fd: ms, 0 none, -1 unknown
                                   (set through setsockopt) */
    atomic_bool reuse_chosen; /* the program set SO_REUSEADDR itself: bind leaves it alone */
    pthread_mutex_t lock;    /* state transitions and the watcher list */
    struct sock_watcher *watchers;
    usocket_addr local;      /* the device address bound, for the log */
};

/* A wrapping layer (TLS): the object's I/O goes through it. Each hook gets the object and
 * returns >= 0 or a code (internal.h). A transfer that moved nothing in time is
 * UPY__E_WOULD_BLOCK; the layer's own read timeout (mbedTLS SSL_TIMEOUT) is UPY__E_LAYER_TIMEOUT,
 * which recv takes as a would-block and the stream calls raise as OSError(-26624). */
struct sock_layer {
    ssize_t (*recv)(usocket *s, void *buf, size_t len);
    ssize_t (*send)(usocket *s, const void *buf, size_t len);
    int (*connected)(usocket *s);          /* the TCP connect finished: handshake */
    int (*settimeout)(usocket *s, int ms); /* the layer's settimeout rule */
    bool (*buffered)(usocket *s);          /* plaintext decrypted and not read yet (for poll) */
    void (*closing)(usocket *s);           /* before the core closes: close_notify */
    void (*free)(usocket *s);              /* the object is going away */
};

struct usocket {
    uint32_t magic;
    atomic_int refs;
    struct ucore *core;
    atomic_int timeout_ms;          /* Python-level: -1 blocking, 0 non-blocking, > 0 */
    const struct sock_layer *layer; /* NULL for a plain socket */
    void *layer_ctx;
    usocket *wrapped;               /* the plain object a layered one holds on to */
    void *_Atomic data;             /* the caller's (usocket_set_data) */
};

/* A new plain socket (*out) around a host socket (taken over, closed on failure). `slot_errno`
 * is the code for running out of slots. */
int sock_new(host_sock *hs, enum sock_state state, int timeout_ms, int slot_errno, usocket **out);

/* A layered object sharing plain's core (plain gets a reference); NULL when out of memory. */
usocket *sock_wrap(usocket *plain, const struct sock_layer *layer, void *ctx);

/* Lifetime (usocket_ref/usocket_release are these with the device's finaliser between): whether
 * s is a live socket handle; one more reference; one fewer (s when that was the last one: close
 * it, then sock_free); free an object with no references left, returning the plain object it
 * wrapped (whose reference it held) or NULL. */
bool sock_is(const usocket *s);
void sock_hold(usocket *s);
usocket *sock_drop(usocket *s);
usocket *sock_free(usocket *s);

/* Begin a call on s: NULL for a bad handle or a closed socket. These two are the public entry
 * points' own first check, so they raise (TypeError, OSError(EBADF)) as the entry would. */
struct ucore *sock_enter(usocket *s);

/* End a call begun with sock_enter. */
void sock_leave(struct ucore *c);

/* Checks a handle without entering: NULL (TypeError) when it is not a socket. */
struct ucore *sock_core(usocket *s);

static inline bool sock_closed(const struct ucore *c)
{
    return atomic_load_explicit(&((struct ucore *)c)->io, memory_order_acquire) & 1u;
}

static inline int sock_state(const struct ucore *c)
{
    return atomic_load_explicit(&((struct ucore *)c)->state, memory_order_acquire);
}

/* Close the core (idempotent). */
void sock_close(struct ucore *c);

/* Move to `to` if the state is `from` (-1: any); watchers hear of it. Returns the prior state. */
int sock_transition(struct ucore *c, int from, enum sock_state to);

/* A fatal error: SOCK_FAILED with a sticky errno (the first one wins). Returns that errno. */
int sock_mark_failed(struct ucore *c, int err);

/* A read returned the peer's end of stream (FIN, or a TLS close). Watchers hear of it once. */
void sock_took_eof(struct ucore *c);

/* Brings a CONNECTING socket up to date (non-blocking connects finish behind our back) and
 * returns its state; a failed connect becomes SOCK_FAILED with its sticky errno (not raised). */
int sock_refresh_connect(struct ucore *c);

/* Set the fd's blocking mode / timeouts (the kernel is skipped only for non-blocking again).
 * 0 or a code. */
int sock_set_kernel_mode(struct ucore *c, int timeout_ms);

/* Watchers (uselect): changed() runs under the core's lock, on every state change, on close,
 * once when the watcher is added, and on sock_poke (after the watcher changed its own mind). */
void sock_watch(struct ucore *c, struct sock_watcher *w);
void sock_poke(struct ucore *c, struct sock_watcher *w);
void sock_unwatch(struct ucore *c, struct sock_watcher *w);

/* Room left in the device's TCP send buffer of `sndbuf` bytes (TCP_SND_BUF): what the kernel holds
 * unacknowledged is what lwIP's pcb would still hold. One non-blocking send queues at most this.
 * A reset connection holds nothing (the kernel's count of a full buffer outlives the reset), so
 * the send goes to the kernel and meets the reset's error, as lwIP's do_write meets the fatal
 * last_err before it looks at the room (SEMANTICS §3.6). */
static inline int sock_send_room(const struct ucore *c, int sndbuf)
{
    int queued = host_unsent_bytes(&c->hs);
    if (queued >= sndbuf && host_tcp_closed(&c->hs))
        return sndbuf;
    return queued < 0 || queued >= sndbuf ? 0 : sndbuf - queued;
}

/* lwIP's sendevent for a stream socket the kernel calls writable: true while the room exceeds
 * TCP_SNDLOWAT, the one rule poll and select apply on top of the kernel's POLLOUT. Always true
 * for UDP and without a send buffer cap (tcp_sndbuf 0). */
bool sock_poll_writable(const struct ucore *c);

/* The device-style fileno, or -1 when closed. */
int sock_fileno(struct ucore *c);

#endif
