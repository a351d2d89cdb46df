/*
 * Fault injection at the host seam's hook points (host.h, struct host_hooks): each hook asks the
 * engine (fault.c) and, when a rule fires, makes the condition the board would meet. Where Linux
 * can make the real condition the kernel makes it, so every later call and poll sees what the
 * board's lwIP reports without the library knowing: a refused connect is a connect to a port
 * that refuses, a reset is the kernel's own RST state (host_disconnect), a FIN is a shut
 * receive side, a slow link is a delay line the connection's bytes cross (host/wire.c).
 * docs/faults.md has each effect with the board's result and its source.
 *
 * Per connection (by host_sock id): its reset/fin rule, chosen at its first transfer, the bytes
 * counted toward it, and what it fails with for good. Only with rules installed does any of
 * this run; without, the seam pays its one branch.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "fault.h"
#include "host/host.h"
#include "host/wire.h"
#include "internal.h"
#include "upysock/uerrno.h"
#include "vnet.h"

#define CONNS 256 /* connections followed at once; beyond, a connection gets no reset/fin/eagain */
#define E(x) (1u << FAULT_##x)
#define STREAM 1 /* host_sock.type */
/* The board's TCP window, both ways: TCP_WND and TCP_SND_BUF are 5744 (4 x MSS 1436; FW
 * esp32/sdkconfig.h, docs/firmware-notes.md): what a delayed connection holds in flight. */
#define BOARD_TCP_WINDOW 5744

struct conn {
    host_sock hs;          /* a copy: the fd, for the link-down sweep */
    bool used, decided, cut;
    bool stalled;          /* the server never answers: what it sends is dropped unseen */
    bool alerting;         /* the server answers the ClientHello with alert_record */
    unsigned alert_at;     /* the bytes of alert_record already received */
    struct fault_rule rule; /* when cut: its reset or fin rule */
    long moved;            /* bytes counted toward rule.after */
    bool eof;              /* the FIN came: every recv ends in 0 */
    int dead;              /* > 0: every transfer fails with this device errno (the link went down) */
    long eagain_left;
    enum fault_dir eagain_dir; /* the storm's direction: the other one passes */
    bool storm_over;       /* the storm just ended: its direction's next call goes through */
    bool listening;        /* a listener (its storms only): a link drop leaves it alone */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn conns[CONNS];
static _Thread_local bool inside; /* the module's own sockets pass untouched */

/* --- connections ------------------------------------------------------------------------------ */

/* Under lock. NULL when the table is full. */
static struct conn *conn_of(const host_sock *s, bool create)
{
    struct conn *free_slot = NULL;
    for (int i = 0; i < CONNS; i++) {
        if (conns[i].used && conns[i].hs.id == s->id)
            return &conns[i];
        if (!conns[i].used && !free_slot)
            free_slot = &conns[i];
    }
    if (create && free_slot)
        *free_slot = (struct conn){.hs = *s, .used = true};
    return create ? free_slot : NULL;
}

static void follow(const host_sock *s)
{
    pthread_mutex_lock(&lock);
    conn_of(s, true);
    pthread_mutex_unlock(&lock);
}

static struct fault_event event_of(enum fault_kind kind, const host_sock *s)
{
    return (struct fault_event){.kind = kind, .local_ip = s->dev_local.ip, .local_port = s->dev_local.port,
                                .peer_ip = s->dev_peer.ip, .peer_port = s->dev_peer.port, .sock = s};
}

/* --- link down: lwIP aborts every TCP connection when the station disconnects ------------------ */

static uint64_t swept_until;

/* The firmware's tcpip_adapter_down → netif_set_addr(ANY) → tcp_netif_ip_addr_changed →
 * tcp_abort: each established connection fails with ERR_ABRT (113), for good. Any thread may
 * sweep, so the socket is only shut (which wakes a call blocked on it and makes poll report HUP,
 * as shutting from another thread does for close); its transfers then answer 113. */
static int down_rule; /* the rule of the window last swept, for the trace */

static void abort_conn(struct conn *c)
{
    c->dead = UERRNO_ECONNABORTED;
    host_shutdown(&c->hs);
    host_fault_fired(&c->hs, "linkdown", down_rule);
}

static void sweep_if_down(void)
{
    uint64_t end, next;
    int rule = fault_link_down(host_monotonic_us(), &end, &next);
    if (!rule)
        return;
    pthread_mutex_lock(&lock);
    if (swept_until != end) {
        swept_until = end;
        down_rule = rule;
        host_fault_fired(NULL, "linkdown", rule); /* the station is off the LAN */
        for (int i = 0; i < CONNS; i++)
            if (conns[i].used && conns[i].hs.type == STREAM && !conns[i].listening && !conns[i].dead)
                abort_conn(&conns[i]);
    }
    pthread_mutex_unlock(&lock);
}

static bool link_down_now(void)
{
    uint64_t end, next;
    return fault_link_down(host_monotonic_us(), &end, &next);
}

/* A connection first met at a transfer was open before the rules came (connect and accept follow
 * theirs from the start): if a window has opened since, it was open then and went down with the
 * link. Under lock. NULL when the table is full. */
static struct conn *conn_met(const host_sock *s)
{
    struct conn *c = conn_of(s, false);
    if (c || !(c = conn_of(s, true)))
        return c;
    if (s->type == STREAM && swept_until)
        abort_conn(c);
    return c;
}

/* The station drops at its time whatever the program is doing (a thread blocked in recv included),
 * so one thread sleeps until each window opens. It ends when the rules change. */
static atomic_uint generation;

static void *link_watch(void *arg)
{
    unsigned mine = (unsigned)(uintptr_t)arg;
    uint64_t end, next;
    while (atomic_load(&generation) == mine) {
        bool down = fault_link_down(host_monotonic_us(), &end, &next);
        if (down)
            sweep_if_down();
        uint64_t wake = down && end < next ? end : next;
        if (wake == UINT64_MAX)
            break;
        uint64_t now = host_monotonic_us();
        host_sleep_us(wake > now ? wake - now : 0);
    }
    return NULL;
}

/* --- where a connect goes: a port that refuses, a listener that never answers ------------------- */

static host_addr refusing, silent;
static host_sock refuser, hole, hole_fillers[2];
static pthread_once_t sinks_once = PTHREAD_ONCE_INIT;

/* A bound socket that does not listen: the kernel answers every SYN to it with RST. A listener
 * with its queue full: the kernel drops every SYN to it, so the connect retries until it times out
 * as lwIP's does (113 after the SYN retries). */
static void make_sinks(void)
{
    inside = true;
    host_addr lo = {0x7f000001, 0};
    if (host_socket_internal(&refuser, STREAM) == 0 && host_bind(&refuser, lo) == 0)
        host_local_addr(&refuser, &refusing);
    /* host_listen(1) holds two: the kernel's queue is full when it holds more than its backlog. */
    if (host_socket_internal(&hole, STREAM) == 0 && host_bind(&hole, lo) == 0 && host_listen(&hole, 1) == 0 &&
        host_local_addr(&hole, &silent) == 0)
        for (int i = 0; i < 2; i++)
            if (host_socket_internal(&hole_fillers[i], STREAM) == 0)
                host_connect(&hole_fillers[i], silent);
    inside = false;
}

/* --- delay: the connection goes through a delay line (host/wire.c) ------------------------------- */

static void set_way(struct host_wire_spec *spec, int way, const struct fault_rule *r)
{
    spec->way[way] = (struct host_wire_way){.latency_us = r->delay_us, .jitter_us = r->jitter_us, .rate = r->rate};
    spec->seed ^= r->draw;
}

/* The connection's delay rules: the first that fires for either direction (or both), then the
 * first recv-only one. False when none fires: the connection is not wired. */
static bool delay_of(const host_sock *s, struct host_wire_spec *spec)
{
    struct fault_event ev = event_of(FAULT_EV_LINK, s);
    struct fault_rule r;
    bool any = false;
    *spec = (struct host_wire_spec){.window = BOARD_TCP_WINDOW, .chunk = profile()->tcp_mss, .draw = fault_draw};
    ev.dir = FAULT_SEND;
    if (fault_decide(&ev, E(DELAY), &r)) {
        any = true;
        if (r.dir != FAULT_RECV)
            set_way(spec, HOST_WIRE_OUT, &r);
        if (r.dir == FAULT_BOTH)
            set_way(spec, HOST_WIRE_IN, &r);
    }
    ev.dir = FAULT_RECV;
    if (fault_decide(&ev, E(DELAY), &r)) {
        any = true;
        set_way(spec, HOST_WIRE_IN, &r);
    }
    return any;
}

/* An accepted connection's delay, decided with the device-side addresses usocket.c gives it once
 * it is back: 0, or the error that lost it. */
static int delay_accepted(const host_sock *listener, host_sock *child)
{
    struct host_wire_spec spec;
    host_sock seen = *child;
    seen.dev_local = listener->dev_local;
    seen.dev_peer = vnet_map_in(child->peer, NULL);
    return delay_of(&seen, &spec) ? host_wire_accept(child, &spec) : 0;
}

/* --- EAGAIN storms ------------------------------------------------------------------------------ */

/* A call that may not wait: by its flag, or by its socket's mode. */
static bool non_blocking_call(const host_sock *s, int flags)
{
    return (flags & HOST_IO_DONTWAIT) || host_nonblocking(s);
}

/* A non-blocking call an EAGAIN storm may take: the mode is only asked of the kernel (a syscall)
 * when some rule makes storms. */
static bool may_storm(const host_sock *s, int flags)
{
    return fault_uses(E(EAGAIN)) && non_blocking_call(s, flags);
}

/* An EAGAIN storm on a non-blocking call: a rule that fires starts one of r.count calls in its
 * direction, and each of them finds nothing to move. The call after a storm goes through, so a
 * rule that fires at every call (no nth, every or p) never starves the program. Under lock. */
static bool storm(struct conn *c, const struct fault_event *ev)
{
    struct fault_rule r;
    bool its_way = c->eagain_dir == FAULT_BOTH || c->eagain_dir == ev->dir;
    if (c->storm_over && its_way) {
        c->storm_over = false;
        return false;
    }
    if (c->eagain_left == 0 && fault_decide(ev, E(EAGAIN), &r)) {
        c->eagain_left = r.count;
        c->eagain_dir = r.dir;
    }
    if (c->eagain_left == 0 || (c->eagain_dir != FAULT_BOTH && c->eagain_dir != ev->dir))
        return false;
    c->storm_over = --c->eagain_left == 0;
    return true;
}

/* What a failed call on s reports: the link drop's 113 when the link took s, else rc. */
static int dead_or(const host_sock *s, int rc)
{
    pthread_mutex_lock(&lock);
    struct conn *c = conn_of(s, false);
    int dead = c ? c->dead : 0;
    pthread_mutex_unlock(&lock);
    return dead ? -dead : rc;
}

/* --- the hooks --------------------------------------------------------------------------------- */

static int on_connect(host_sock *s, host_addr to, int (*next)(host_sock *, host_addr))
{
    if (inside || s->type != STREAM)
        return next(s, to);
    sweep_if_down();
    if (link_down_now())
        return -UERRNO_EHOSTUNREACH; /* no netif, no route: lwIP's ERR_RTE */
    struct fault_event ev = event_of(FAULT_EV_CONNECT, s);
    struct fault_rule r;
    struct host_wire_spec spec;
    int rc;
    follow(s); /* before the SYN: a link drop while it waits aborts it too */
    if (fault_decide(&ev, E(REFUSE) | E(HANG), &r)) {
        pthread_once(&sinks_once, make_sinks);
        rc = next(s, r.effect == FAULT_REFUSE ? refusing : silent);
    } else if (delay_of(s, &spec)) {
        rc = host_wire_connect(s, to, &spec, next);
    } else {
        rc = next(s, to);
    }
    return rc < 0 && rc != -UERRNO_EINPROGRESS ? dead_or(s, rc) : rc;
}

/* A pending connect the link drop aborted: the sweep's shutdown fails it in the kernel as a
 * reset; lwIP's tcp_abort of the SYN_SENT pcb gives ERR_ABRT. */
static int on_connect_result(host_sock *s, int (*next)(host_sock *))
{
    int rc = next(s);
    return rc < 0 && rc != -UERRNO_EINPROGRESS ? dead_or(s, rc) : rc;
}

static int on_socket(host_sock *s, int type, int (*next)(host_sock *, int))
{
    struct fault_event ev = {.kind = FAULT_EV_SOCKET};
    struct fault_rule r;
    if (!inside && fault_decide(&ev, E(EXHAUST), &r))
        return -profile()->socket_exhausted_errno; /* lwIP's netconn pool is empty */
    return next(s, type);
}

/* A non-blocking accept in an EAGAIN storm (the listener's storm state is kept in the table). */
static bool accept_storm(const host_sock *l, struct fault_event *ev)
{
    if (!may_storm(l, 0))
        return false;
    ev->dir = FAULT_RECV;
    pthread_mutex_lock(&lock);
    struct conn *c = conn_of(l, true);
    if (c)
        c->listening = true;
    bool stormy = c && storm(c, ev);
    pthread_mutex_unlock(&lock);
    return stormy;
}

static int on_accept(host_sock *l, host_sock *child, bool clear, int (*next)(host_sock *, host_sock *, bool))
{
    struct fault_event ev = event_of(FAULT_EV_ACCEPT, l);
    struct fault_rule r;
    if (!inside && fault_decide(&ev, E(EXHAUST), &r))
        return -profile()->accept_exhausted_errno; /* the connection stays queued, as in lwIP's mbox */
    if (!inside && accept_storm(l, &ev))
        return -UERRNO_EAGAIN; /* lwIP's accept mailbox looks empty: the connection stays queued */
    int rc = next(l, child, clear);
    if (rc == 0)
        rc = delay_accepted(l, child);
    if (rc == 0)
        follow(child);
    if (rc == 0 && link_down_now()) { /* it came in over loopback: on the board it could not */
        pthread_mutex_lock(&lock);
        struct conn *c = conn_of(child, false);
        if (c)
            abort_conn(c);
        pthread_mutex_unlock(&lock);
    }
    return rc;
}

/* A TLS client's first bytes: a handshake record (type 22, version 3.x), its ClientHello. */
static bool client_hello(enum fault_dir dir, const unsigned char *buf, size_t len)
{
    return dir == FAULT_SEND && len >= 2 && buf[0] == 22 && buf[1] == 3;
}

/* The connection's reset or fin rule and its stall, chosen once, at its first transfer (the
 * device-side addresses are all known by then); its alert when that transfer is a ClientHello. */
static void decide_connection(struct conn *c, const host_sock *s, bool hello)
{
    struct fault_event ev = event_of(FAULT_EV_TRANSFER, s);
    struct fault_event handshake = event_of(FAULT_EV_HANDSHAKE, s);
    struct fault_rule r;
    c->decided = true;
    c->cut = fault_decide(&ev, E(RESET) | E(FIN), &c->rule);
    c->stalled = fault_decide(&ev, E(TLS_STALL), &r);
    c->alerting = hello && fault_decide(&handshake, E(TLS_ALERT), &r);
}

static bool counts(const struct conn *c, enum fault_dir dir)
{
    return c->cut && (c->rule.effect == FAULT_RESET ? c->rule.dir == FAULT_BOTH || c->rule.dir == dir
                                                    : dir == FAULT_RECV);
}

/* The cut happens: the peer's RST, or its FIN. */
static void cut(struct conn *c, host_sock *s)
{
    c->cut = false;
    if (c->rule.effect == FAULT_RESET) {
        host_disconnect(s);
    } else {
        c->eof = true;
        host_shutdown_read(s);
    }
}

/* What one transfer may do before the kernel is asked: > 0 the bytes it may move (<= len),
 * 0 a FIN already read, < 0 a device errno to return. Under lock. */
static ssize_t admit(struct conn *c, host_sock *s, enum fault_dir dir, size_t len, int flags)
{
    if (c->dead)
        return -c->dead;
    if (c->eof && dir == FAULT_RECV)
        return 0;
    struct fault_event ev = event_of(dir == FAULT_SEND ? FAULT_EV_SEND : FAULT_EV_RECV, s);
    ev.dir = dir;
    struct fault_rule r;
    if (may_storm(s, flags) && storm(c, &ev))
        return -UERRNO_EAGAIN;
    if (fault_decide(&ev, E(SHORT), &r) && (size_t)r.max < len)
        len = (size_t)r.max;
    if (counts(c, dir)) {
        long left = c->rule.after - c->moved;
        if (left <= 0) {
            cut(c, s);
            return c->eof && dir == FAULT_RECV ? 0 : (ssize_t)len;
        }
        len = (size_t)left < len ? (size_t)left : len;
    }
    return (ssize_t)len;
}

/* After the kernel moved n bytes: count them, and cut when the count is reached. */
static ssize_t moved(host_sock *s, enum fault_dir dir, ssize_t n)
{
    pthread_mutex_lock(&lock);
    struct conn *c = conn_of(s, false);
    if (c && c->dead && n <= 0) {
        n = -c->dead; /* the link went down while the call waited */
    } else if (c && n > 0 && counts(c, dir)) {
        c->moved += n;
        if (c->moved >= c->rule.after)
            cut(c, s);
    }
    pthread_mutex_unlock(&lock);
    return n;
}

/* A stalled connection's receive: the server's bytes are dropped as they come, so nothing is ever
 * read; a call that may not wait says so, one that may waits until the connection ends. */
static ssize_t swallow(host_sock *s, void *buf, size_t len, int flags, host_addr *addr, host_io_fn next)
{
    bool may_wait = !non_blocking_call(s, flags);
    for (;;) {
        ssize_t n = next(s, buf, len, flags | HOST_IO_DONTWAIT, addr);
        if (n == -UERRNO_EAGAIN && may_wait)
            n = host_wait(&(host_waiter){.on = HOST_WAIT_SOCK, .sock = s, .events = HOST_EV_IN}, HOST_NEVER);
        if (n <= 0)
            return n;
    }
}

/* The server's answer to the ClientHello, replaced: a TLS alert record (type 21, version 3.3,
 * length 2) saying fatal (2) handshake_failure (40), so the TLS library itself reads a received
 * alert. Then the server closes: end of stream, as after a FIN. */
static const unsigned char alert_record[] = {21, 3, 3, 0, 2, 2, 40};

/* An alerting connection's receive: it waits as the call would for the server's first bytes
 * (dropped unseen), then hands on the alert record, as much as the call asks for. */
static ssize_t alert_instead(host_sock *s, void *buf, size_t len, int flags, host_addr *addr, host_io_fn next)
{
    pthread_mutex_lock(&lock);
    struct conn *c = conn_of(s, false);
    bool answered = c && c->alert_at > 0;
    pthread_mutex_unlock(&lock);
    if (!answered) {
        ssize_t n = next(s, buf, len, flags, addr);
        if (n <= 0)
            return n; /* nothing yet, or the server went first */
    }
    size_t k = 0;
    pthread_mutex_lock(&lock);
    c = conn_of(s, false);
    if (c && c->alerting) {
        k = sizeof alert_record - c->alert_at < len ? sizeof alert_record - c->alert_at : len;
        memcpy(buf, alert_record + c->alert_at, k);
        c->alert_at += (unsigned)k;
        if (c->alert_at == sizeof alert_record) {
            c->alerting = false;
            c->eof = true;
            host_shutdown_read(s);
        }
    }
    pthread_mutex_unlock(&lock);
    return (ssize_t)k;
}

/* --- datagrams: no connection; each call is one event, at the datagram's far end -------------- */

/* A datagram call's event: the far end is the destination named (send) or the source (recv). */
static struct fault_event datagram_event(const host_sock *s, enum fault_dir dir, host_addr far)
{
    struct fault_event ev = event_of(dir == FAULT_SEND ? FAULT_EV_SEND : FAULT_EV_RECV, s);
    ev.dir = dir;
    ev.peer_ip = far.ip;
    ev.peer_port = far.port;
    return ev;
}

/* The device-side source of the datagram a receive would take next, left queued; {0, 0} when
 * none is. */
static host_addr next_source(host_sock *s, host_io_fn next)
{
    host_addr from = {0, 0};
    char none;
    return next(s, &none, 0, HOST_IO_DONTWAIT | HOST_IO_PEEK, &from) < 0 ? (host_addr){0, 0}
                                                                          : vnet_map_in(from, NULL);
}

/* lwIP's UDP send never waits (lwip_sendto has no non-blocking case): what cannot leave is the
 * Wi-Fi driver's full transmit queue, ERR_MEM (ENOMEM). A receive finds nothing queued. */
static int datagram_storm(host_sock *s, enum fault_dir dir, host_io_fn next)
{
    struct fault_event ev = datagram_event(s, dir, dir == FAULT_SEND ? s->dev_peer : next_source(s, next));
    pthread_mutex_lock(&lock);
    struct conn *c = conn_of(s, true);
    bool stormy = c && storm(c, &ev);
    pthread_mutex_unlock(&lock);
    return !stormy ? 0 : dir == FAULT_SEND ? -UERRNO_ENOMEM : -UERRNO_EAGAIN;
}

/* A short read of a datagram is a truncated datagram: lwIP copies what fits and drops the rest
 * with its netbuf (lwip_recvfrom). Decided after the kernel's receive, which names the source. */
static ssize_t truncated(const host_sock *s, ssize_t n, host_addr from)
{
    struct fault_event ev = datagram_event(s, FAULT_RECV, vnet_map_in(from, NULL));
    struct fault_rule r;
    return n > 0 && fault_decide(&ev, E(SHORT), &r) && r.max < n ? r.max : n;
}

/* A datagram goes whole or not at all, so sends are never short. While the link is down a send
 * finds no route (lwIP's ERR_RTE) and nothing is received. */
static ssize_t datagram(host_sock *s, void *buf, size_t len, int flags, host_addr *addr, host_io_fn next,
                        enum fault_dir dir)
{
    if (dir == FAULT_SEND && link_down_now())
        return -UERRNO_EHOSTUNREACH;
    int rc = may_storm(s, flags) ? datagram_storm(s, dir, next) : 0;
    if (rc < 0)
        return rc;
    if (dir == FAULT_SEND)
        return next(s, buf, len, flags, addr);
    host_addr from = {0, 0};
    ssize_t n;
    while ((n = next(s, buf, len, flags, &from)) >= 0 && !(flags & HOST_IO_PEEK) && link_down_now())
        continue; /* with no netif nothing arrives: what the kernel got meanwhile is lost */
    if (addr)
        *addr = from;
    return truncated(s, n, from);
}

static ssize_t transfer(host_sock *s, void *buf, size_t len, int flags, host_addr *addr, host_io_fn next,
                        enum fault_dir dir)
{
    if (inside)
        return next(s, buf, len, flags, addr);
    sweep_if_down();
    if (s->type != STREAM)
        return datagram(s, buf, len, flags, addr, next, dir);
    pthread_mutex_lock(&lock);
    struct conn *c = conn_met(s);
    if (c && !c->decided)
        decide_connection(c, s, client_hello(dir, buf, len));
    bool alerting = c && c->alerting && dir == FAULT_RECV;
    bool stalled = c && c->stalled && dir == FAULT_RECV;
    ssize_t allowed = c && !stalled && !alerting ? admit(c, s, dir, len, flags) : (ssize_t)len;
    pthread_mutex_unlock(&lock);
    if (alerting)
        return alert_instead(s, buf, len, flags, addr, next);
    if (stalled)
        return swallow(s, buf, len, flags, addr, next);
    if (allowed <= 0 && len > 0)
        return allowed;
    return moved(s, dir, next(s, buf, (size_t)allowed, flags, addr));
}

static ssize_t on_send(host_sock *s, const void *buf, size_t len, int flags, host_addr *to, host_io_fn next)
{
    return transfer(s, (void *)buf, len, flags, to, next, FAULT_SEND);
}

static ssize_t on_recv(host_sock *s, void *buf, size_t len, int flags, host_addr *from, host_io_fn next)
{
    return transfer(s, buf, len, flags, from, next, FAULT_RECV);
}

static void on_close(host_sock *s, void (*next)(host_sock *))
{
    pthread_mutex_lock(&lock);
    struct conn *c = conn_of(s, false);
    if (c)
        c->used = false;
    next(s); /* under the lock: the sweep never meets a reused fd */
    pthread_mutex_unlock(&lock);
}

/* A poll or a sleep that starts after a window opened sees the connections already gone, even
 * before the watcher thread got to run. */
static int on_wait(const struct host_waiter *w, uint64_t deadline, int (*next)(const struct host_waiter *, uint64_t))
{
    sweep_if_down();
    return next(w, deadline);
}

static int on_resolve(const char *name, uint32_t *ip, int (*next)(const char *, uint32_t *))
{
    struct fault_event ev = {.kind = FAULT_EV_RESOLVE, .host = name};
    struct fault_rule r;
    if (link_down_now())
        return -UERRNO_EAI_FAIL; /* no netif to ask the DNS server through */
    if (fault_decide(&ev, E(DNSFAIL) | E(DNSSLOW), &r)) {
        if (r.effect == FAULT_DNSFAIL)
            return -UERRNO_EAI_FAIL;
        host_sleep_us(r.delay_us);
    }
    return next(name, ip);
}

static const struct host_hooks faults = {
    .socket = on_socket, .connect = on_connect, .connect_result = on_connect_result, .accept = on_accept,
    .send = on_send, .recv = on_recv, .close = on_close, .wait = on_wait, .resolve = on_resolve,
};

static void attach(bool on)
{
    unsigned mine = atomic_fetch_add(&generation, 1) + 1;
    /* New rules decide afresh. Without rules no close is seen, so nothing may stay followed:
     * its fd could be another socket's by the time rules come back. */
    pthread_mutex_lock(&lock);
    swept_until = 0;
    for (int i = 0; i < CONNS; i++)
        conns[i] = on ? (struct conn){.hs = conns[i].hs, .used = conns[i].used, .dead = conns[i].dead}
                      : (struct conn){0};
    pthread_mutex_unlock(&lock);
    host_hooks_install(on ? &faults : NULL);
    if (on)
        sweep_if_down();
    uint64_t end, next;
    if (on && (fault_link_down(host_monotonic_us(), &end, &next) || next != UINT64_MAX))
        host_thread_spawn(link_watch, (void *)(uintptr_t)mine, 64 * 1024);
}

int fault_configure(const char *spec, char *err, size_t errsize)
{
    static pthread_mutex_t configuring = PTHREAD_MUTEX_INITIALIZER; /* rules and hooks change together */
    pthread_mutex_lock(&configuring);
    int rc = fault_set_rules(spec, err, errsize);
    if (rc == 0)
        attach(atomic_load(&fault_active));
    pthread_mutex_unlock(&configuring);
    return rc;
}
