/*
 * The observers attached at the seam's hook points (host.h): each hook calls the real operation
 * (`next`), keeps the kernel's errno it left, and tells the trace and the pcap what happened.
 * The hooks are installed only while a trace or a pcap is on, so a program that observes
 * nothing pays the seam's one predictable branch per call and no more.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "observe.h"
#include "upysock/uerrno.h"

static obs_sink trace = OBS_SINK_INIT("trace");
static obs_sink keylog = OBS_SINK_INIT("keylog");
static atomic_size_t trace_data; /* payload bytes put in a send/recv record */
atomic_bool observe_tracing;

/* What a failed call's kernel errno was: errno as the kernel left it, for a result the seam
 * translated from it. */
static int kernel_errno(long long result, int saved)
{
    return result < 0 ? saved : 0;
}

/* The first bytes moved, as many as UPYSOCK_TRACE_DATA asks for. */
static void trace_data_bytes(trace_rec *r, const char *key, const void *data, ssize_t n)
{
    size_t want = atomic_load_explicit(&trace_data, memory_order_relaxed);
    if (want && n > 0)
        trace_bytes(r, key, data, (size_t)n < want ? (size_t)n : want);
}

static void trace_io(const char *call, host_sock *s, const void *buf, size_t len, const host_addr *addr,
                     const host_addr *dev, ssize_t n, int kerr)
{
    trace_rec r;
    trace_begin(&r, call, s);
    trace_int(&r, "len", (long long)len);
    if (dev && dev->ip)
        trace_addr(&r, "dev", *dev);
    if (addr)
        trace_addr(&r, "host", *addr);
    trace_result(&r, n, kernel_errno(n, kerr));
    trace_data_bytes(&r, "data", buf, n);
    trace_end(&r, &trace);
}

static bool is_reset(ssize_t n)
{
    return n == -UERRNO_ECONNRESET || n == -UERRNO_ECONNABORTED;
}

static int on_connect(host_sock *s, host_addr to, int (*next)(host_sock *, host_addr))
{
    const struct host_hooks *in = host_hooks_inner(); /* faults, if any, act first */
    errno = 0; /* a fault that skips the kernel leaves no kernel errno */
    int rc = in && in->connect ? in->connect(s, to, next) : next(s, to);
    int kerr = errno;
    if (s->internal) /* the library's own helper: no conversation of the program's */
        return rc;
    if (obs_sink_on(&trace)) {
        trace_rec r;
        trace_begin(&r, "connect", s);
        if (s->dev_peer.ip)
            trace_addr(&r, "dev", s->dev_peer);
        trace_addr(&r, "host", to);
        trace_result(&r, rc, kernel_errno(rc, kerr));
        trace_end(&r, &trace);
    }
    /* A blocking connect refused is the board's 104, the kernel's ECONNREFUSED: still SYN, RST. */
    bool refused = rc == -UERRNO_ECONNREFUSED || (rc < 0 && kerr == ECONNREFUSED);
    if (pcap_on() && (rc == 0 || rc == -UERRNO_EINPROGRESS || refused))
        pcap_connected(s, rc == 0 ? PCAP_CONNECTED : rc == -UERRNO_EINPROGRESS ? PCAP_PENDING : PCAP_REFUSED);
    errno = kerr;
    return rc;
}

static int on_accept(host_sock *listener, host_sock *child, bool clear_timeouts,
                     int (*next)(host_sock *, host_sock *, bool))
{
    const struct host_hooks *in = host_hooks_inner();
    errno = 0;
    int rc = in && in->accept ? in->accept(listener, child, clear_timeouts, next) : next(listener, child, clear_timeouts);
    int kerr = errno;
    /* A failure only: an accepted socket's record is usocket.c's, written once the device knows
     * the peer's device address and the new socket's fileno. */
    if (obs_sink_on(&trace) && rc < 0) {
        trace_rec r;
        trace_begin(&r, "accept", listener);
        trace_result(&r, rc, kernel_errno(rc, kerr));
        trace_end(&r, &trace);
    }
    if (rc == 0 && pcap_on())
        pcap_accepted(child);
    errno = kerr;
    return rc;
}

static ssize_t on_send(host_sock *s, const void *buf, size_t len, int flags, host_addr *to, host_io_fn next)
{
    if (s->type == 2 && pcap_on())
        pcap_sending(s);
    const struct host_hooks *in = host_hooks_inner();
    errno = 0;
    ssize_t n = in && in->send ? in->send(s, buf, len, flags, to, next) : next(s, (void *)buf, len, flags, to);
    int kerr = errno;
    /* A TLS layer's transfers are its records on the wire: the program's send on a TLS socket is
     * ussl.c's record, in the bytes it gave. */
    const char *call = flags & HOST_IO_RECORD ? "wire_send" : to ? "sendto" : "send";
    if (obs_sink_on(&trace))
        trace_io(call, s, buf, len, to, to ? &s->dev_peer : NULL, n, kerr);
    if (s->type == 2 && pcap_on())
        pcap_sending(s); /* again: an unbound socket has its port only now */
    if (pcap_on() && n > 0)
        pcap_data(s, true, buf, (size_t)n, to);
    else if (pcap_on() && is_reset(n))
        pcap_end(s, false, true);
    errno = kerr;
    return n;
}

static ssize_t on_recv(host_sock *s, void *buf, size_t len, int flags, host_addr *from, host_io_fn next)
{
    const struct host_hooks *in = host_hooks_inner();
    /* a datagram's source, for the pcap, also when the program's recv does not ask */
    host_addr src = {0, 0}, *source = from || s->type != 2 ? from : &src;
    errno = 0;
    ssize_t n = in && in->recv ? in->recv(s, buf, len, flags, source, next) : next(s, buf, len, flags, source);
    int kerr = errno;
    /* A recvfrom that got a datagram is usocket.c's record, written once the device knows the
     * source's device address; a failed one is this. A TLS layer's: as in on_send. */
    const char *call = flags & HOST_IO_RECORD ? "wire_recv" : from ? "recvfrom" : "recv";
    if (obs_sink_on(&trace) && (!from || n < 0))
        trace_io(call, s, buf, len, NULL, NULL, n, kerr);
    if (pcap_on() && n > 0)
        pcap_data(s, false, buf, (size_t)n, source);
    else if (pcap_on() && (is_reset(n) || (n == 0 && len > 0 && s->type == 1)))
        pcap_end(s, false, n != 0);
    errno = kerr;
    return n;
}

static void on_close(host_sock *s, void (*next)(host_sock *))
{
    if (pcap_on() && !s->internal)
        pcap_closed(s);
    if (obs_sink_on(&trace) && !s->internal) {
        trace_rec r;
        trace_begin(&r, "close", s);
        trace_end(&r, &trace);
    }
    const struct host_hooks *in = host_hooks_inner();
    if (in && in->close)
        in->close(s, next);
    else
        next(s);
}

static const char *const wait_names[] = {
    [HOST_WAIT_SLEEP] = "sleep", [HOST_WAIT_SOCK] = "sock", [HOST_WAIT_NOTE] = "note",
    [HOST_WAIT_REACTOR] = "poll", [HOST_WAIT_COND] = "cond",
};

static int on_wait(const host_waiter *w, uint64_t deadline, int (*next)(const host_waiter *, uint64_t))
{
    const struct host_hooks *in = host_hooks_inner();
    errno = 0;
    int rc = in && in->wait ? in->wait(w, deadline, next) : next(w, deadline);
    int kerr = errno;
    if (obs_sink_on(&trace) && w->on != HOST_WAIT_COND) { /* COND: the library's own bookkeeping */
        trace_rec r;
        trace_begin(&r, "wait", w->on == HOST_WAIT_SOCK ? w->sock : NULL);
        trace_str(&r, "on", wait_names[w->on]);
        if (w->on == HOST_WAIT_SOCK)
            trace_int(&r, "events", w->events);
        trace_int(&r, "timeout_ms", deadline == HOST_NEVER ? -1 : host_deadline_left_ms(deadline));
        trace_result(&r, rc, kernel_errno(rc, kerr));
        trace_end(&r, &trace);
    }
    errno = kerr;
    return rc;
}

static int on_resolve(const char *name, uint32_t *ip, int (*next)(const char *, uint32_t *))
{
    const struct host_hooks *in = host_hooks_inner();
    int rc = in && in->resolve ? in->resolve(name, ip, next) : next(name, ip);
    if (!obs_sink_on(&trace))
        return rc;
    trace_rec r;
    trace_begin(&r, "resolve", NULL);
    trace_str(&r, "name", name);
    if (rc == 0) /* the address the name stands for, as getaddrinfo returns it */
        trace_ip(&r, "ip", *ip);
    trace_result(&r, rc, 0);
    trace_end(&r, &trace);
    return rc;
}

static int on_tls_handshake(host_sock *s, int outcome)
{
    const struct host_hooks *in = host_hooks_inner();
    if (in && in->tls_handshake)
        outcome = in->tls_handshake(s, outcome);
    if (!obs_sink_on(&trace))
        return outcome;
    trace_rec r;
    trace_begin(&r, "tls_handshake", s);
    trace_int(&r, "outcome", outcome);
    trace_end(&r, &trace);
    return outcome;
}

/* No record for these two (usocket.c's socket and connect records have the outcomes): the calls
 * go on to the faults. */
static int on_socket(host_sock *s, int type, int (*next)(host_sock *, int))
{
    const struct host_hooks *in = host_hooks_inner();
    return in && in->socket ? in->socket(s, type, next) : next(s, type);
}

static int on_connect_result(host_sock *s, int (*next)(host_sock *))
{
    const struct host_hooks *in = host_hooks_inner();
    return in && in->connect_result ? in->connect_result(s, next) : next(s);
}

/* An injected fault, as it fires: one record naming the rule (its place in the set). */
static void on_fault(const host_sock *s, const char *effect, int rule)
{
    if (s && s->type == 1 && strcmp(effect, "linkdown") == 0 && pcap_on())
        pcap_dropped(s); /* off the LAN: whatever the kernel does with the socket now is not sent */
    if (!obs_sink_on(&trace))
        return;
    trace_rec r;
    trace_begin(&r, "fault", s);
    trace_str(&r, "effect", effect);
    trace_int(&r, "rule", rule);
    trace_end(&r, &trace);
}

static const struct host_hooks hooks = {
    .socket = on_socket, .connect = on_connect, .connect_result = on_connect_result, .accept = on_accept,
    .send = on_send, .recv = on_recv, .close = on_close, .wait = on_wait, .resolve = on_resolve,
    .tls_handshake = on_tls_handshake, .fault = on_fault,
};

static void reinstall(void)
{
    bool tracing = obs_sink_on(&trace);
    atomic_store(&observe_tracing, tracing);
    host_hooks_install_outer(tracing || pcap_on() ? &hooks : NULL);
}

int observe_set_trace(const char *spec, char *err, size_t errsize)
{
    int rc = obs_sink_open(&trace, spec, true, false, NULL, 0, err, errsize);
    reinstall();
    return rc;
}

int observe_set_trace_data(const char *count, char *err, size_t errsize)
{
    /* digits only: strtol would take " 5" and "+5" */
    size_t digits = strspn(count, "0123456789");
    long n = digits && digits <= 4 && !count[digits] ? strtol(count, NULL, 10) : -1;
    if (n < 0 || n > 4096) {
        snprintf(err, errsize, "a byte count 0..4096 expected, not '%s'", count);
        return -1;
    }
    atomic_store(&trace_data, (size_t)n);
    return 0;
}

int observe_set_pcap(const char *path, char *err, size_t errsize)
{
    int rc = pcap_open(path, err, errsize);
    reinstall();
    return rc;
}

int observe_set_keylog(const char *path, char *err, size_t errsize)
{
    return obs_sink_open(&keylog, path, false, true, NULL, 0, err, errsize);
}

void observe_set_device_ip(uint32_t ip)
{
    pcap_set_device_ip(ip);
}

void observe_set_map_in(host_addr (*map)(host_addr))
{
    pcap_set_map_in(map);
}

void observe_raised(const char *type, int code, const char *message)
{
    trace_rec r;
    trace_begin(&r, "raise", NULL);
    trace_str(&r, "exc", type);
    if (message)
        trace_str(&r, "message", message);
    else
        trace_int(&r, "code", code);
    trace_end(&r, &trace);
}

void observe_poll(const char *call, unsigned poller, int timeout_ms, int result, const int pairs[][2], int n)
{
    trace_rec r;
    trace_begin(&r, call, NULL);
    trace_int(&r, "poller", poller);
    trace_int(&r, "timeout_ms", timeout_ms);
    trace_result(&r, result, 0);
    if (result > 0)
        trace_pairs(&r, "revents", pairs, n);
    trace_end(&r, &trace);
}

static void trace_arg(trace_rec *r, const observe_arg *a)
{
    switch (a->kind) {
    case OBSERVE_INT: trace_int(r, a->key, a->num); break;
    case OBSERVE_TEXT:
        if (a->text)
            trace_str(r, a->key, a->text);
        break;
    case OBSERVE_ADDR: trace_addr(r, a->key, a->addr); break;
    case OBSERVE_DATA: /* after the result: observe_call */
    case OBSERVE_NONE: break;
    }
}

void observe_call(const char *call, const host_sock *s, const observe_arg *args, int n, long long result, int err)
{
    trace_rec r;
    trace_begin(&r, call, s);
    for (int i = 0; i < n; i++)
        trace_arg(&r, &args[i]);
    if (err)
        trace_int(&r, "errno", err);
    else
        trace_int(&r, "result", result);
    for (int i = 0; i < n; i++)
        if (args[i].kind == OBSERVE_DATA)
            trace_data_bytes(&r, args[i].key, args[i].text, args[i].num);
    trace_end(&r, &trace);
}

void observe_vnet(const char *verb, const char *device, const host_addr *host)
{
    trace_rec r;
    trace_begin(&r, "vnet", NULL);
    trace_str(&r, "decision", verb);
    trace_str(&r, "dev", device);
    if (host)
        trace_addr(&r, "host", *host);
    trace_end(&r, &trace);
}

void observe_keylog(const char *line)
{
    size_t len = strlen(line);
    char rec[512];
    if (len + 2 > sizeof rec)
        return;
    memcpy(rec, line, len);
    rec[len] = '\n';
    obs_sink_write(&keylog, rec, len + 1);
}
