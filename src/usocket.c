/*
 * usocket: what the board does for each socket call (SEMANTICS §3). The kernel is reached only
 * through src/host/; this file speaks device numbers and device states.
 *
 * The common case of every call is one kernel call: a blocking socket is a blocking kernel fd,
 * a timeout is SO_RCVTIMEO/SO_SNDTIMEO, non-blocking is O_NONBLOCK. What differs between the
 * device's modes is only how a "would block" answer is reported, which the would_block table
 * below decides.
 */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "host/host.h"
#include "internal.h"
#include "sock.h"
#include "vnet.h"

/* --- "would block" by call and mode (SEMANTICS §13, recv/recvfrom/accept asymmetry) -------- */

enum io_op { OP_RECV, OP_RECVFROM, OP_SEND, OP_ACCEPT };

enum wb_result { WB_EMPTY, WB_EAGAIN, WB_TIMEOUT };

static const struct {
    enum wb_result non_blocking, timed_out;
} would_block[] = {
    [OP_RECV] = {WB_EMPTY, WB_TIMEOUT},      /* b'' / TimeoutError */
    [OP_RECVFROM] = {WB_EAGAIN, WB_TIMEOUT}, /* OSError(11) / TimeoutError */
    [OP_SEND] = {WB_EAGAIN, WB_TIMEOUT},     /* OSError(11) / TimeoutError */
    [OP_ACCEPT] = {WB_EAGAIN, WB_EAGAIN},    /* OSError(11) both: lwIP ERR_TIMEOUT is EAGAIN */
};

/* The calling task's errno as lwIP leaves it: the last non-zero error of a socket call (lwIP never
 * writes 0). The firmware's send(b'') skips lwIP and raises whatever it holds. */
static _Thread_local int task_errno;

/* A "would block" answer as the call reports it: 0 (b'') or a code. Each one is lwIP's
 * EWOULDBLOCK in errno, also when the send buffer cap answers without a kernel call. */
static ssize_t would_block_code(usocket *s, enum io_op op)
{
    task_errno = UERRNO_EAGAIN;
    bool timed = atomic_load_explicit(&s->timeout_ms, memory_order_relaxed) > 0;
    switch (timed ? would_block[op].timed_out : would_block[op].non_blocking) {
    case WB_EMPTY: return 0;
    case WB_TIMEOUT: return UPY__E_TIMEOUT;
    default: return -UERRNO_EAGAIN;
    }
}

/* The end of a transfer call: its count, or its failure raised (a would-block as the call
 * reports it). */
static ssize_t finish(usocket *s, enum io_op op, ssize_t n)
{
    if (n == UPY__E_WOULD_BLOCK || n == UPY__E_LAYER_TIMEOUT)
        n = would_block_code(s, op);
    return n < 0 ? upy__raise(n) : n;
}

/* An error that lwIP would have set errno to: its code. */
static int lwip_err(int err)
{
    task_errno = err;
    return -err;
}

/* A fatal error: the socket fails for good, and lwIP's errno holds the sticky error. */
static int lwip_fail(struct ucore *c, int err)
{
    return lwip_err(sock_mark_failed(c, err));
}

static bool is_fatal(int err)
{
    return err == UERRNO_ECONNRESET || err == UERRNO_ECONNABORTED;
}

/* A failed host call: closed under us, sticky fatal, or the error itself. */
static ssize_t io_error(struct ucore *c, int err)
{
    if (sock_closed(c))
        return lwip_err(UERRNO_EBADF);
    if (err == UERRNO_EAGAIN) {
        task_errno = err;
        return UPY__E_WOULD_BLOCK;
    }
    if (c->hs.type == USOCKET_SOCK_STREAM && is_fatal(err))
        return lwip_fail(c, err);
    return lwip_err(err);
}

/* A send or recv the device answers without asking the kernel (not connected, the device's send
 * buffer full, send(b'')): the seam sees nothing, so this is the call's trace record. Cold
 * paths only: the hot ones are recorded by the seam. */
static ssize_t answered_here(const char *call, struct ucore *c, size_t len, ssize_t code)
{
    UPY__TRACE_CALL(call, &c->hs, code, {"len", .num = (long long)len});
    return code;
}

/* --- socket, close, bind, listen, accept ------------------------------------------------- */

usocket *usocket_socket(int af, int type, int proto)
{
    (void)proto; /* lwIP ignores it; Linux would reject (AF_INET, SOCK_DGRAM, 6) */
    host_sock hs;
    usocket *s = NULL;
    int rc = config_ready();
    if (rc < 0)
        ;
    else if (af == USOCKET_AF_LORA || af == USOCKET_AF_SIGFOX)
        rc = UPY__E_NO_CARD;
    else if (af != USOCKET_AF_INET)
        rc = UPY__E_BAD_FAMILY;
    else if (type != USOCKET_SOCK_STREAM && type != USOCKET_SOCK_DGRAM)
        /* lwip_socket has no netconn for an unknown type (EINVAL); the board's raw sockets
         * are not emulated. */
        rc = -(type == USOCKET_SOCK_RAW ? UERRNO_EPROTONOSUPPORT : UERRNO_EINVAL);
    else if ((rc = host_socket(&hs, type)) < 0)
        rc = lwip_err(-rc);
    else
        rc = sock_new(&hs, type == USOCKET_SOCK_DGRAM ? SOCK_DATAGRAM : SOCK_FRESH, -1,
                      profile()->socket_exhausted_errno, &s);
    /* Every lwIP socket has SO_REUSEADDR (lwipsocket.c). A UDP socket gets it now: its implicit
     * binds (sendto, connect) must leave its port shareable. A TCP one gets it at bind, the only
     * place it matters, which keeps a syscall out of every client's socket(). */
    if (rc == 0 && type == USOCKET_SOCK_DGRAM)
        host_setsockopt_int(&s->core->hs, HOST_OPT_REUSEADDR, 1);
    UPY__TRACE_CALL("socket", s ? &s->core->hs : NULL, rc, {"af", .num = af}, {"type", .num = type});
    if (rc < 0)
        upy__raise(rc);
    return s;
}

usocket *usocket_ref(usocket *s)
{
    if (sock_core(s))
        sock_hold(s);
    return s;
}

void usocket_release(usocket *s)
{
    /* The last reference to a wrapped object drops one of the plain object it wraps. */
    while (sock_is(s) && sock_drop(s)) {
        if (!sock_closed(s->core))
            usocket_close(s); /* the finaliser: __del__ is close */
        s = sock_free(s);
    }
}

int usocket_close(usocket *s)
{
    struct ucore *c = sock_core(s);
    if (!c)
        return -1;
    if (sock_closed(c)) {
        UPY__TRACE_CALL("close", &c->hs, 0); /* the first close is the seam's record */
        return 0;
    }
    if (s->layer && s->layer->closing)
        s->layer->closing(s);
    sock_close(c);
    return 0;
}

int usocket_bind(usocket *s, const usocket_addr *addr)
{
    host_addr h, dev;
    int rc = config_ready();
    if (rc < 0 || (rc = vnet_map_out(addr, &h, &dev)) < 0)
        return upy__raise(rc);
    struct ucore *c = sock_enter(s);
    if (!c)
        return -1;
    if (c->hs.type == USOCKET_SOCK_STREAM && !atomic_load_explicit(&c->reuse_chosen, memory_order_relaxed))
        host_setsockopt_int(&c->hs, HOST_OPT_REUSEADDR, 1); /* usocket_socket says why here */
    rc = host_bind(&c->hs, h);
    if (rc == 0) {
        c->local = *addr;
        c->hs.dev_local = dev;
        vnet_log("bind", addr, h);
    }
    sock_leave(c);
    rc = rc < 0 ? lwip_err(-rc) : 0;
    UPY__TRACE_CALL("bind", &c->hs, rc, {"dev", OBSERVE_ADDR, .addr = dev}, {"host", OBSERVE_ADDR, .addr = h});
    return rc < 0 ? upy__raise(rc) : 0;
}

int usocket_listen(usocket *s, int backlog)
{
    struct ucore *c = sock_enter(s);
    if (!c)
        return -1;
    const upy_profile *p = profile();
    backlog = backlog < p->backlog_min ? p->backlog_min : backlog > p->backlog_max ? p->backlog_max : backlog;
    /* Beside the backlog, lwIP's accept mailbox bounds what waits unaccepted (firmware-notes §9.8). */
    int held = backlog < p->accept_mbox ? backlog : p->accept_mbox;
    int rc = c->hs.type == USOCKET_SOCK_DGRAM ? -UERRNO_EOPNOTSUPP : host_listen(&c->hs, held);
    if (rc == 0) {
        sock_transition(c, SOCK_FRESH, SOCK_LISTENING);
        host_addr bound;
        if (host_local_addr(&c->hs, &bound) == 0) {
            if (!c->hs.dev_local.port) /* bound to port 0, or not bound: the port it got is its own */
                c->hs.dev_local.port = bound.port;
            vnet_log("listen", &c->local, bound);
        }
    }
    sock_leave(c);
    rc = rc < 0 ? lwip_err(-rc) : 0;
    UPY__TRACE_CALL("listen", &c->hs, rc, {"backlog", .num = backlog});
    return rc < 0 ? upy__raise(rc) : 0;
}

usocket *usocket_accept(usocket *s, usocket_addr *peer)
{
    struct ucore *c = sock_enter(s);
    if (!c)
        return NULL;
    host_sock hs;
    int rc = host_accept(&c->hs, &hs, atomic_load_explicit(&c->kernel_timeouts, memory_order_relaxed) != 0);
    hs.dev_local = c->hs.dev_local;
    if (rc < 0)
        rc = (int)io_error(c, -rc);
    sock_leave(c);
    usocket *child = NULL;
    if (rc == 0) {
        hs.dev_peer = vnet_map_in(hs.peer, peer);
        /* The new fd blocks with no timeout, as lwIP's new netconn does, whatever the listener
         * does; the Python-level timeout is copied, as the firmware copies the object's fields. */
        rc = sock_new(&hs, SOCK_CONNECTED, atomic_load_explicit(&s->timeout_ms, memory_order_relaxed),
                      profile()->accept_exhausted_errno, &child);
        /* the kernel's accept went well: its record, now that the peer's device address is known */
        UPY__TRACE_CALL("accept", &c->hs, rc, {"new_sock", .num = hs.id},
                        {"new_fileno", .num = child ? child->core->hs.fileno : 0},
                        {"dev", OBSERVE_ADDR, .addr = hs.dev_peer}, {"host", OBSERVE_ADDR, .addr = hs.peer});
    }
    finish(s, OP_ACCEPT, rc);
    return child;
}

/* --- connect ------------------------------------------------------------------------------ */

/* A second connect: what lwIP says for the state the first one left (api_msg.c
 * lwip_netconn_do_connect: connecting → ALREADY, any other state with a pcb → ISCONN, no pcb →
 * CLSD, which is ENOTCONN). */
static int connect_again(struct ucore *c, int state)
{
    if (state == SOCK_CONNECTING)
        state = sock_refresh_connect(c);
    switch (state) {
    case SOCK_CONNECTING: return lwip_err(UERRNO_EALREADY);
    case SOCK_CONNECTED:
    case SOCK_LISTENING: return lwip_err(UERRNO_EISCONN);
    default: return lwip_err(UERRNO_ENOTCONN); /* failed: the pcb is gone, use a new socket */
    }
}

/* Timeout > 0: the firmware's "Socket Operations" task path. The fd goes non-blocking (unless the
 * object's settimeout does not move the fd: SSL in r6), writability within the timeout counts as
 * connected (a refusal too: its error waits for the next send/recv), expiry closes the socket. */
static int connect_timed(struct ucore *c, host_addr to, int timeout_ms, bool moves_fd)
{
    int mode = atomic_load_explicit(&c->kernel_mode, memory_order_relaxed);
    int rc = moves_fd ? sock_set_kernel_mode(c, 0) : 0;
    if (rc < 0)
        return rc;
    rc = host_connect(&c->hs, to);
    if (rc == -UERRNO_EINPROGRESS)
        rc = host_wait(&(host_waiter){.on = HOST_WAIT_SOCK, .sock = &c->hs, .events = HOST_EV_OUT},
                       host_deadline_in_ms(timeout_ms)) > 0 ? 0 : -UERRNO_ETIMEDOUT;
    if (rc < 0) {
        sock_close(c);
        return rc == -UERRNO_ETIMEDOUT ? UPY__E_TIMEOUT : lwip_err(-rc);
    }
    if (moves_fd && (rc = sock_set_kernel_mode(c, mode)) < 0)
        return rc;
    rc = host_connect_result(&c->hs);
    if (rc < 0)
        sock_mark_failed(c, -rc); /* reported by the next send/recv, not by connect */
    else
        sock_transition(c, -1, SOCK_CONNECTED);
    return 0;
}

/* A connect on a socket that is not fresh: lwIP answers at once. */
static int connect_not_fresh(struct ucore *c, int prior, host_addr to)
{
    if (prior != SOCK_DATAGRAM) {
        int rc = connect_again(c, prior); /* no kernel call, so no seam record: this one */
        UPY__TRACE_CALL("connect", &c->hs, rc, {"dev", OBSERVE_ADDR, .addr = c->hs.dev_peer},
                        {"host", OBSERVE_ADDR, .addr = to});
        return rc;
    }
    int rc = host_connect(&c->hs, to);
    return rc < 0 ? lwip_err(-rc) : 0;
}

static int connect_plain(usocket *s, struct ucore *c, host_addr to)
{
    int prior = sock_transition(c, SOCK_FRESH, SOCK_CONNECTING);
    int timeout_ms = atomic_load_explicit(&s->timeout_ms, memory_order_relaxed);
    if (prior != SOCK_FRESH) {
        int rc = connect_not_fresh(c, prior, to);
        /* The timed path ends every error lwIP returns at once by closing the socket
         * (firmware-notes §9.2). */
        if (rc < 0 && timeout_ms > 0)
            sock_close(c);
        return rc;
    }
    if (timeout_ms > 0)
        return connect_timed(c, to, timeout_ms, !s->layer || profile()->tls_setblocking_sets_fd);
    /* The plain path: the fd's own mode decides. */
    int rc = host_connect(&c->hs, to);
    bool non_blocking = atomic_load_explicit(&c->kernel_mode, memory_order_relaxed) == 0;
    if (rc == 0 && !non_blocking) {
        sock_transition(c, SOCK_CONNECTING, SOCK_CONNECTED);
        return 0;
    }
    /* lwIP connects asynchronously even on loopback: an immediate success is EINPROGRESS too
     * (the socket stays CONNECTING until someone looks). */
    if (rc == 0 || rc == -UERRNO_EINPROGRESS)
        return lwip_err(UERRNO_EINPROGRESS);
    if (rc == -UERRNO_EHOSTUNREACH && !sock_closed(c)) {
        /* lwIP's ERR_RTE: tcp_connect found no route before any SYN, the netconn stays as it was
         * and no event is raised (firmware-notes §16): fresh again, it polls as nothing and may
         * connect later. */
        sock_transition(c, SOCK_CONNECTING, SOCK_FRESH);
        return lwip_err(UERRNO_EHOSTUNREACH);
    }
    return sock_closed(c) ? lwip_err(UERRNO_EBADF) : lwip_fail(c, -rc);
}

int usocket_connect(usocket *s, const usocket_addr *addr)
{
    host_addr to, dev;
    int rc = config_ready();
    if (rc < 0 || (rc = vnet_map_out(addr, &to, &dev)) < 0)
        return upy__raise(rc);
    struct ucore *c = sock_enter(s);
    if (!c)
        return -1;
    c->hs.dev_peer = dev; /* before the kernel's connect: its hook shows the device address */
    rc = connect_plain(s, c, to);
    if (rc == 0 && sock_closed(c)) /* close() from another thread ended the wait */
        rc = lwip_err(UERRNO_EBADF);
    if (rc == 0) {
        vnet_log("connect", addr, to);
        if (s->layer && s->layer->connected && (rc = s->layer->connected(s)) < 0)
            /* the seam's record is the TCP connect's (0): this one is the call's, as it raises */
            UPY__TRACE_CALL("connect", &c->hs, rc, {"dev", OBSERVE_ADDR, .addr = dev},
                            {"host", OBSERVE_ADDR, .addr = to});
    }
    sock_leave(c);
    return rc < 0 ? upy__raise(rc) : 0;
}

/* --- send --------------------------------------------------------------------------------- */

/* Why a socket that is not connected cannot send (0: it can after all). */
static int send_blocked(struct ucore *c, int state)
{
    if (state == SOCK_CONNECTING)
        state = sock_refresh_connect(c);
    switch (state) {
    case SOCK_CONNECTED: return 0;
    case SOCK_CONNECTING: return lwip_err(UERRNO_EINPROGRESS); /* lwIP do_write: INPROGRESS */
    case SOCK_FAILED: return lwip_err(atomic_load(&c->fatal));
    default: return lwip_err(UERRNO_ENOTCONN);
    }
}

/* One send on a plain socket: bytes or a code (UPY__E_WOULD_BLOCK when nothing moved). A blocking fd queues everything or
 * fails, as lwIP's blocking netconn_write does; a non-blocking one at most what the device's send
 * buffer would take. close() from another thread aborts a write that waits for room: lwIP's
 * do_delconn (LWIP_NETCONN_FULLDUPLEX) ends it with ERR_CLSD and drops its count, so the writer
 * gets ENOTCONN however much went out (firmware-notes §9.4). */
UPY_HOT_INLINE ssize_t plain_send(struct ucore *c, const void *buf, size_t len)
{
    int state = sock_state(c), rc;
    if (state != SOCK_CONNECTED && state != SOCK_DATAGRAM && (rc = send_blocked(c, state)) < 0)
        return answered_here("send", c, len, rc);
    int mode = atomic_load_explicit(&c->kernel_mode, memory_order_relaxed);
    /* The profile only for a non-blocking stream: a blocking send touches nothing it need not. */
    int sndbuf = mode == 0 && c->hs.type == USOCKET_SOCK_STREAM ? profile()->tcp_sndbuf : 0;
    if (sndbuf > 0) {
        size_t room = (size_t)sock_send_room(c, sndbuf);
        if (room == 0)
            return answered_here("send", c, len, UPY__E_WOULD_BLOCK);
        len = len < room ? len : room;
    }
    size_t sent = 0;
    do {
        ssize_t n = host_send(&c->hs, (const char *)buf + sent, len - sent, 0);
        if (mode != 0 && (n < 0 || (size_t)n < len - sent) && sock_closed(c))
            return lwip_err(UERRNO_ENOTCONN);
        if (n < 0)
            return sent && mode > 0 ? (ssize_t)sent : io_error(c, (int)-n);
        sent += (size_t)n;
    } while (mode < 0 && sent < len); /* a signal can cut a blocking send short; lwIP's cannot */
    return (ssize_t)sent;
}

UPY_HOT_INLINE ssize_t send_some(usocket *s, struct ucore *c, const void *buf, size_t len)
{
    return s->layer ? s->layer->send(s, buf, len) : plain_send(c, buf, len);
}

ssize_t usocket_send(usocket *s, const void *buf, size_t len)
{
    struct ucore *c = sock_enter(s);
    if (!c)
        return -1;
    ssize_t n;
    if (!buf && len)
        n = UPY__E_NEED_BUFFER;
    else if (len == 0) /* no lwIP call: the stale errno, read as socket_send reads errors */
        n = answered_here("send", c, 0,
                          task_errno == UERRNO_EAGAIN && atomic_load(&s->timeout_ms) > 0 ? UPY__E_TIMEOUT
                                                                                        : UPY__OS(task_errno));
    else
        n = send_some(s, c, buf, len);
    sock_leave(c);
    return finish(s, OP_SEND, n);
}

ssize_t usocket_send_str(usocket *s, const char *text)
{
    if (!text)
        return upy__raise(UPY__E_NEED_BUFFER);
    return usocket_send(s, text, strlen(text));
}

ssize_t usocket_sendall(usocket *s, const void *buf, size_t len)
{
    return usocket_send(s, buf, len);
}

ssize_t usocket_sendto(usocket *s, const void *buf, size_t len, const usocket_addr *to)
{
    host_addr dest, dev;
    ssize_t n = config_ready();
    if (n < 0 || (n = vnet_map_out(to, &dest, &dev)) < 0)
        return upy__raise(n);
    struct ucore *c = sock_enter(s);
    if (!c)
        return -1;
    if (c->hs.type == USOCKET_SOCK_DGRAM)
        c->hs.dev_peer = dev; /* the destination as named: the send hook's device address */
    if (!buf && len)
        n = UPY__E_NEED_BUFFER;
    else if (len == 0) { /* no lwIP call, so no seam record: this one, with both addresses */
        n = 0;
        UPY__TRACE_CALL("sendto", &c->hs, 0, {"len", .num = 0}, {"dev", OBSERVE_ADDR, .addr = dev},
                        {"host", OBSERVE_ADDR, .addr = dest});
    }
    else if (c->hs.type == USOCKET_SOCK_STREAM)
        n = send_some(s, c, buf, len); /* lwIP ignores the address on TCP */
    else if ((n = host_sendto(&c->hs, buf, len, dest)) < 0)
        n = io_error(c, (int)-n);
    sock_leave(c);
    return finish(s, OP_SEND, n);
}

/* --- recv --------------------------------------------------------------------------------- */

/* A never-connected socket's timed recv: lwIP waits out the receive timeout on the empty
 * mailbox. The kernel has nothing to wait on (a fresh socket polls as hung up at once), so this
 * waits for the socket's own news instead: a watcher hears every state change and the close, and
 * posts a note that ends the wait at once. */
struct unconnected_wait {
    struct sock_watcher w; /* first: the watcher is the wait */
    int note;
};

static void unconnected_news(struct sock_watcher *w, struct ucore *c)
{
    (void)c;
    host_note_post(((struct unconnected_wait *)(void *)w)->note);
}

static int wait_unconnected(struct ucore *c, int timeout_ms)
{
    struct unconnected_wait u = {.w.changed = unconnected_news, .note = host_note_new()};
    if (u.note < 0)
        return lwip_err(-u.note);
    host_deadline d = host_deadline_in_ms(timeout_ms);
    sock_watch(c, &u.w);
    bool waiting;
    int rc = 0;
    while ((waiting = !sock_closed(c) && sock_state(c) == SOCK_FRESH) &&
           (rc = host_wait(&(host_waiter){.on = HOST_WAIT_NOTE, .fd = u.note}, d)) > 0)
        host_note_take(u.note);
    sock_unwatch(c, &u.w);
    host_note_free(u.note);
    if (waiting)
        return rc < 0 ? lwip_err(-rc) : UPY__E_WOULD_BLOCK;
    return sock_closed(c) ? lwip_err(UERRNO_EBADF) : 1;
}

/* Why a socket that is not connected has nothing to read: 1 (it can read after all),
 * UPY__E_WOULD_BLOCK (lwIP's EWOULDBLOCK: recv b'', recvfrom OSError(11), read None) or a code. */
static int recv_blocked(usocket *s, struct ucore *c, int state)
{
    if (state == SOCK_CONNECTING)
        state = sock_refresh_connect(c);
    switch (state) {
    case SOCK_CONNECTED:
    case SOCK_LISTENING: return 1; /* the kernel answers ENOTCONN, as lwIP does */
    case SOCK_CONNECTING: return UPY__E_WOULD_BLOCK;
    case SOCK_FAILED: return lwip_err(atomic_load(&c->fatal));
    default: {
        /* Never connected: lwIP's recv waits on the empty mailbox for the receive timeout
         * (firmware-notes §9.6): none when non-blocking, t, or forever when blocking, where we
         * say ENOTCONN instead of hanging. */
        int timeout_ms = atomic_load_explicit(&s->timeout_ms, memory_order_relaxed);
        if (timeout_ms == 0)
            return UPY__E_WOULD_BLOCK;
        return timeout_ms < 0 ? lwip_err(UERRNO_ENOTCONN) : wait_unconnected(c, timeout_ms);
    }
    }
}

UPY_HOT_INLINE size_t capped(size_t len)
{
    int cap = profile()->recv_cap;
    return cap > 0 && len > (size_t)cap ? (size_t)cap : len;
}

/* recvfrom's kernel call. Its record is written here, where the source is known in device terms
 * as well (mapped back as recvfrom returns it); the seam writes only a failed one, with the
 * kernel's errno: as for accept. */
static ssize_t kernel_recvfrom(struct ucore *c, void *buf, size_t len, host_addr *from)
{
    ssize_t n = host_recvfrom(&c->hs, buf, len, from);
    if (n >= 0)
        UPY__TRACE_CALL("recvfrom", &c->hs, n, {"len", .num = (long long)len},
                        {"dev", OBSERVE_ADDR, .addr = vnet_map_in(*from, NULL)},
                        {"host", OBSERVE_ADDR, .addr = *from}, {"data", OBSERVE_DATA, .text = buf, .num = n});
    return n;
}

/* One receive: bytes (0 = EOF) or a code. */
UPY_HOT_INLINE ssize_t plain_recv(usocket *s, struct ucore *c, void *buf, size_t len, host_addr *from)
{
    int state = sock_state(c);
    if (state != SOCK_CONNECTED && state != SOCK_DATAGRAM) {
        int rc = recv_blocked(s, c, state);
        if (rc != 1)
            return answered_here(from ? "recvfrom" : "recv", c, len, rc);
    }
    len = capped(len);
    ssize_t n = from ? kernel_recvfrom(c, buf, len, from) : host_recv(&c->hs, buf, len, 0);
    if (n > 0)
        return n;
    if (n == 0) { /* EOF, or a close from another thread woke us */
        if (sock_closed(c))
            return lwip_err(UERRNO_EBADF);
        if (c->hs.type == USOCKET_SOCK_STREAM && len > 0)
            sock_took_eof(c);
        return 0;
    }
    return io_error(c, (int)-n);
}

UPY_HOT_INLINE ssize_t recv_some(usocket *s, struct ucore *c, void *buf, size_t len)
{
    return s->layer ? s->layer->recv(s, buf, len) : plain_recv(s, c, buf, len, NULL);
}

ssize_t usocket_recv(usocket *s, void *buf, size_t bufsize)
{
    struct ucore *c = sock_enter(s);
    if (!c)
        return -1;
    ssize_t n = !buf && bufsize ? UPY__E_NULL_BUFFER : recv_some(s, c, buf, bufsize);
    sock_leave(c);
    return finish(s, OP_RECV, n);
}

ssize_t usocket_recvfrom(usocket *s, void *buf, size_t bufsize, usocket_addr *from)
{
    struct ucore *c = sock_enter(s);
    if (!c)
        return -1;
    host_addr src = {0, 0};
    ssize_t n = !buf && bufsize ? UPY__E_NULL_BUFFER : plain_recv(s, c, buf, bufsize, &src);
    sock_leave(c);
    if (n >= 0 && from)
        vnet_map_in(src, from);
    return finish(s, OP_RECVFROM, n);
}

/* --- options and modes -------------------------------------------------------------------- */

static uint32_t be32_get(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void be32_put(unsigned char *b, uint32_t v)
{
    b[0] = (unsigned char)(v >> 24), b[1] = (unsigned char)(v >> 16), b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
}

/* IP_ADD/DROP_MEMBERSHIP (ip_mreq: group, then interface) and IP_MULTICAST_IF (an interface), in
 * network order. lwIP's igmp_joingroup/leavegroup refuse a group that is not multicast, and the
 * all-systems group, with EADDRNOTAVAIL; the interface is the virtual LAN's to choose. */
static int set_multicast(struct ucore *c, const struct profile_sockopt *o, const unsigned char *bytes)
{
    unsigned char v[8];
    memcpy(v, bytes, o->size);
    unsigned char *ifaddr = v;
    if (o->value == SOCKOPT_MREQ) {
        uint32_t group = be32_get(v);
        if (group >> 28 != 0xE || group == 0xE0000001u)
            return -UERRNO_EADDRNOTAVAIL;
        ifaddr = v + 4;
    }
    be32_put(ifaddr, vnet_map_interface(be32_get(ifaddr)));
    return host_setsockopt_bytes(&c->hs, o->host, v, o->size);
}

/* lwip_setsockopt_impl's checks, in its order, then the value as the host takes it. */
static int set_option(struct ucore *c, int level, int opt, const void *value, size_t len)
{
    bool tcp = c->hs.type == USOCKET_SOCK_STREAM;
    /* The IPPROTO_TCP level is checked as a whole before its options are: an int, on a TCP
     * socket that is not listening. */
    if (level == USOCKET_IPPROTO_TCP) {
        if (!value || len < sizeof(int32_t))
            return -UERRNO_EINVAL;
        if (!tcp)
            return -UERRNO_ENOPROTOOPT;
        if (sock_state(c) == SOCK_LISTENING)
            return -UERRNO_EINVAL;
    }
    const struct profile_sockopt *o = profile_sockopt(level, opt);
    if (!o)
        return -UERRNO_ENOPROTOOPT;
    if (!value || len < o->size)
        return -UERRNO_EINVAL;
    if ((o->on == SOCKOPT_TCP && !tcp) || (o->on == SOCKOPT_UDP && tcp))
        return -UERRNO_ENOPROTOOPT;
    if (o->host == HOST_OPT_REUSEADDR)
        atomic_store_explicit(&c->reuse_chosen, true, memory_order_relaxed);
    const unsigned char *bytes = value;
    int32_t word = 0, tv[2];
    if (o->size >= sizeof word)
        memcpy(&word, bytes, sizeof word);
    switch (o->value) {
    case SOCKOPT_INT: return host_setsockopt_int(&c->hs, o->host, word);
    case SOCKOPT_BYTE: return host_setsockopt_int(&c->hs, o->host, bytes[0]);
    case SOCKOPT_IDLE_MS: return host_setsockopt_int(&c->hs, o->host, word < 1000 ? 1 : word / 1000);
    case SOCKOPT_TIMEVAL: {
        memcpy(tv, bytes, sizeof tv);
        uint32_t ms = (uint32_t)tv[0] * 1000u + (uint32_t)tv[1] / 1000u; /* lwIP's unsigned sum */
        atomic_store_explicit(&c->kernel_timeouts, -1, memory_order_relaxed); /* not settimeout's */
        return host_setsockopt_int(&c->hs, o->host, ms > INT_MAX ? INT_MAX : (int)ms);
    }
    default: return set_multicast(c, o, bytes);
    }
}

int usocket_setsockopt(usocket *s, int level, int opt, const void *value, size_t len)
{
    struct ucore *c = sock_enter(s);
    if (!c)
        return -1;
    int rc = set_option(c, level, opt, value, len);
    sock_leave(c);
    rc = rc < 0 ? lwip_err(-rc) : 0;
    int32_t word = 0;
    if (value && len == sizeof word)
        memcpy(&word, value, sizeof word);
    /* an int value is shown as one; any other (ip_mreq, a timeval) only by its length */
    UPY__TRACE_CALL("setsockopt", &c->hs, rc, {"level", .num = level}, {"opt", .num = opt},
                    {"len", .num = (long long)len},
                    {"value", value && len == sizeof word ? OBSERVE_INT : OBSERVE_NONE, .num = word});
    return rc < 0 ? upy__raise(rc) : 0;
}

int usocket_setsockopt_int(usocket *s, int level, int opt, int value)
{
    return usocket_setsockopt(s, level, opt, &value, sizeof value);
}

/* The Python-level timeout and, for a plain socket, the fd's mode. */
static int set_timeout_ms(usocket *s, const char *call, int ms)
{
    struct ucore *c = sock_enter(s);
    if (!c)
        return -1;
    int rc = s->layer && s->layer->settimeout ? s->layer->settimeout(s, ms) : sock_set_kernel_mode(c, ms);
    if (rc == 0)
        atomic_store_explicit(&s->timeout_ms, ms, memory_order_relaxed);
    sock_leave(c);
    UPY__TRACE_CALL(call, &c->hs, rc, {"timeout_ms", .num = ms});
    return rc < 0 ? upy__raise(rc) : 0;
}

int usocket_settimeout(usocket *s, double seconds)
{
    if (isnan(seconds))
        return upy__raise(UPY__E_TIMEOUT_NAN);
    /* int(1000 * float(value)): a positive value under 1 ms becomes 0, non-blocking. */
    double ms = seconds * 1000.0;
    return set_timeout_ms(s, "settimeout", seconds < 0 ? -1 : ms >= INT_MAX ? INT_MAX : (int)ms);
}

int usocket_setblocking(usocket *s, bool flag)
{
    return set_timeout_ms(s, "setblocking", flag ? -1 : 0);
}

usocket *usocket_makefile(usocket *s, const char *mode)
{
    struct ucore *c = sock_core(s);
    if (!c)
        return NULL;
    /* The firmware checks the mode only when one is given (NULL: no argument). */
    int rc = mode && strcmp(mode, "rb") != 0 && strcmp(mode, "wb") != 0 ? UPY__E_INVALID_ARG_VALUE : 0;
    UPY__TRACE_CALL("makefile", &c->hs, rc, {"mode", OBSERVE_TEXT, .text = mode});
    return rc < 0 ? (upy__raise(rc), NULL) : s;
}

int usocket_fileno(usocket *s)
{
    struct ucore *c = sock_core(s);
    if (!c)
        return -1;
    int fileno = sock_fileno(c);
    /* -1 for a closed socket is a result, not a failure: the device returns it, raising nothing */
    UPY__TRACE_CALL("fileno", &c->hs, fileno < 0 ? UPY__E_RAISED : fileno);
    return fileno;
}

int usocket_set_data(usocket *s, void *data)
{
    if (!sock_core(s))
        return -1;
    atomic_store_explicit(&s->data, data, memory_order_release);
    return 0;
}

void *usocket_get_data(const usocket *s)
{
    /* sock_core only reads the handle; it takes a mutable one because it may raise. */
    return sock_core((usocket *)s) ? atomic_load_explicit(&s->data, memory_order_acquire) : NULL;
}

/* --- stream calls: loops on top of recv/send, None when nothing could move ---------------- */

/* py/stream.c: a would-block or timeout before any byte → UPY_NONE; after some bytes → the
 * count. A layer's read timeout is not EAGAIN to the stream layer: it surfaces as the error
 * (upy__raise gives UPY__E_LAYER_TIMEOUT its OSError(-26624)). */
static ssize_t stream_result(ssize_t n, size_t done)
{
    if (n == UPY__E_WOULD_BLOCK || n == UPY__E_TIMEOUT)
        return done ? (ssize_t)done : UPY_NONE;
    return n < 0 ? upy__raise(n) : (ssize_t)done;
}

ssize_t usocket_readinto(usocket *s, void *buf, size_t n)
{
    struct ucore *c = sock_enter(s);
    if (!c)
        return -1;
    size_t done = 0;
    ssize_t got = 0;
    while (done < n && (got = recv_some(s, c, (char *)buf + done, n - done)) > 0)
        done += (size_t)got;
    sock_leave(c);
    return got == 0 ? (ssize_t)done : stream_result(got, done);
}

ssize_t usocket_read(usocket *s, void *buf, size_t n)
{
    return usocket_readinto(s, buf, n);
}

ssize_t usocket_readline(usocket *s, void *buf, size_t limit)
{
    struct ucore *c = sock_enter(s);
    if (!c)
        return -1;
    char *out = buf;
    size_t done = 0;
    ssize_t got = 0;
    while (done < limit && (got = recv_some(s, c, out + done, 1)) > 0)
        if (out[done++] == '\n')
            break;
    sock_leave(c);
    return got == 0 || (done && out[done - 1] == '\n') || done == limit ? (ssize_t)done
                                                                         : stream_result(got, done);
}

ssize_t usocket_write(usocket *s, const void *buf, size_t len)
{
    struct ucore *c = sock_enter(s);
    if (!c)
        return -1;
    size_t done = 0;
    ssize_t put = 0;
    while (done < len && (put = send_some(s, c, (const char *)buf + done, len - done)) > 0)
        done += (size_t)put;
    sock_leave(c);
    return done == len ? (ssize_t)done : stream_result(put, done);
}

/* --- module functions --------------------------------------------------------------------- */

int usocket_getaddrinfo(const char *host, int port, usocket_addrinfo *out)
{
    usocket_addr addr;
    int rc = config_ready();
    if (rc == 0 && !out)
        rc = UPY__E_NULL_RESULT;
    if (rc == 0)
        rc = vnet_resolve(host, port, &addr);
    UPY__TRACE_CALL("getaddrinfo", NULL, rc < 0 ? rc : 1, {"name", OBSERVE_TEXT, .text = host},
                    {"port", .num = port}, {"ip", OBSERVE_TEXT, .text = rc == 0 ? addr.ip : NULL});
    if (rc < 0)
        return upy__raise(rc);
    *out = (usocket_addrinfo){.family = USOCKET_AF_INET, .socktype = USOCKET_SOCK_STREAM, .sockaddr = addr};
    return 1;
}

/* lwIP keeps three servers (DNS_MAX_SERVERS) and dnsserver shows two. The firmware rejects only
 * indexes >= 2 and then truncates to 8 bits, so a negative index reads slot i & 0xFF (0.0.0.0
 * beyond slot 2) and writes it only when that is a real slot (firmware-notes §4). */
static pthread_mutex_t dns_lock = PTHREAD_MUTEX_INITIALIZER;
static char dns_servers[3][16] = {"0.0.0.0", "0.0.0.0", "0.0.0.0"};
#define DNS_SLOTS 3

int usocket_dnsserver(int index, char ip[16])
{
    if (index >= 2)
        return upy__raise(UPY__E_INDEX_RANGE);
    if (!ip)
        return upy__raise(UPY__E_NULL_RESULT);
    int slot = index & 0xFF;
    pthread_mutex_lock(&dns_lock);
    snprintf(ip, sizeof dns_servers[0], "%s", slot < DNS_SLOTS ? dns_servers[slot] : "0.0.0.0");
    pthread_mutex_unlock(&dns_lock);
    return slot;
}

int usocket_dnsserver_set(int index, const char *ip)
{
    if (index >= 2)
        return upy__raise(UPY__E_INDEX_RANGE);
    if (!ip)
        return upy__raise(UPY__E_NULL_DNS);
    usocket_addr parsed = {.port = 0};
    uint32_t v;
    int port, slot = index & 0xFF;
    if (strlen(ip) >= sizeof parsed.ip)
        return upy__raise(UPY__E_INVALID_ARGS);
    memcpy(parsed.ip, ip, strlen(ip) + 1);
    int rc = vnet_parse(&parsed, &v, &port);
    if (rc < 0)
        return upy__raise(rc);
    pthread_mutex_lock(&dns_lock);
    if (slot < DNS_SLOTS)
        vnet_format_ip(v, dns_servers[slot]);
    pthread_mutex_unlock(&dns_lock);
    return 0;
}
