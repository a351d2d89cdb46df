/* uselect: the device's event rules (SEMANTICS §4.3), each asserted as the exact revents. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host/host.h"
#include "sock.h"
#include "testutil.h"
#include "upysock/uerrno.h"
#include "upysock/uselect.h"
#include "upysock/usocket.h"
#include "uselect_rules.h"

/* Long enough to tell "waits" from a short timeout firing, short enough to keep the suite fast. */
#define STILL_WAITING_MS 250

enum { IN = USELECT_POLLIN, OUT = USELECT_POLLOUT, ERR = USELECT_POLLERR, HUP = USELECT_POLLHUP };

/* poll for one object: its revents, or 0 when nothing was reported within timeout_ms. */
static int revents_of(uselect_poller *p, usocket *s, int timeout_ms)
{
    uselect_event ev[8];
    int n = uselect_poll_poll(p, timeout_ms, 0, ev, 8);
    assert_true(n >= 0);
    for (int i = 0; i < n; i++)
        if (ev[i].obj == s)
            return ev[i].revents;
    return 0;
}

/* Most tests: a poll object and a socket — connected, with its raw kernel peer, or fresh. */
struct fixture {
    uselect_poller *p;
    usocket *s;
    int peer; /* -1: none, or closed by the test (tu_reset) */
};

static int setup(void **state, bool connected)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->p = uselect_poll();
    assert_non_null(f->p);
    f->peer = -1;
    f->s = connected ? tu_usock_connected(&f->peer) : tu_tcp();
    *state = f;
    return 0;
}

static int setup_connected(void **state)
{
    return setup(state, true);
}

static int setup_fresh(void **state)
{
    return setup(state, false);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    uselect_poll_free(f->p);
    usocket_release(f->s);
    if (f->peer >= 0)
        close(f->peer);
    free(f);
    return 0;
}

/* --- the pure rules -------------------------------------------------------------------- */

static void test_interest_rules(void **state)
{
    (void)state;
    /* Kept out of the kernel set: Linux would report them, the device does not. */
    assert_int_equal(poll_interest(SOCK_FRESH, false, false, IN | OUT | HUP), POLL_NO_INTEREST);
    assert_int_equal(poll_interest(SOCK_CONNECTED, true, false, IN | OUT | HUP), POLL_NO_INTEREST);
    assert_int_equal(poll_interest(SOCK_CONNECTED, false, false, ERR), POLL_NO_INTEREST);
    assert_int_equal(poll_interest(SOCK_CONNECTED, false, false, 0), POLL_NO_INTEREST);
    /* Watched: HUP needs no bit of its own, the kernel always reports it. */
    assert_int_equal(poll_interest(SOCK_CONNECTING, false, false, IN | OUT | HUP | ERR), HOST_EV_IN | HOST_EV_OUT);
    assert_int_equal(poll_interest(SOCK_CONNECTED, false, false, HUP), 0);
    assert_int_equal(poll_interest(SOCK_LISTENING, false, false, IN), HOST_EV_IN);
    assert_int_equal(poll_interest(SOCK_DATAGRAM, false, false, OUT), HOST_EV_OUT);
    assert_int_equal(poll_interest(SOCK_FAILED, false, false, IN | HUP | ERR), HOST_EV_IN);
    /* The FIN was read: readable no more (only a later fatal error, through HUP). */
    assert_int_equal(poll_interest(SOCK_CONNECTED, false, true, IN | OUT | HUP), HOST_EV_OUT);
    assert_int_equal(poll_interest(SOCK_CONNECTED, false, true, IN | HUP), 0);
}

static void test_revents_rules(void **state)
{
    (void)state;
    int tcp_type = USOCKET_SOCK_STREAM, udp_type = USOCKET_SOCK_DGRAM;
    /* A dead TCP connection: IN|OUT|HUP of what was asked, never ERR. */
    assert_int_equal(poll_revents(HOST_EV_IN | HOST_EV_OUT | HOST_EV_HUP | HOST_EV_ERR, tcp_type, IN | OUT | HUP | ERR), 21);
    assert_int_equal(poll_revents(HOST_EV_HUP, tcp_type, IN | HUP | ERR), 17);
    assert_int_equal(poll_revents(HOST_EV_ERR, tcp_type, OUT), OUT);
    /* Plain readiness maps bit for bit, filtered by the mask. */
    assert_int_equal(poll_revents(HOST_EV_IN | HOST_EV_OUT, tcp_type, IN), IN);
    assert_int_equal(poll_revents(HOST_EV_IN | HOST_EV_OUT, tcp_type, IN | OUT | HUP | ERR), IN | OUT);
    /* UDP errors (ICMP) are not events on the device. */
    assert_int_equal(poll_revents(HOST_EV_OUT | HOST_EV_ERR, udp_type, IN | OUT | HUP | ERR), OUT);
    assert_int_equal(poll_revents(HOST_EV_ERR, udp_type, IN | HUP), 0);
}

/* --- API shapes ------------------------------------------------------------------------- */

static void test_register_modify_unregister_errors(void **state)
{
    (void)state;
    uselect_poller *p = uselect_poll();
    usocket *s = tu_tcp();
    assert_int_equal(uselect_poll_register(p, NULL, IN), -1);
    assert_exc_msg(UPY_EXC_OSERROR, "stream operation not supported");
    assert_int_equal(uselect_poll_modify(p, s, IN), -1);
    assert_oserror(UERRNO_ENOENT);
    assert_int_equal(uselect_poll_unregister(p, s), 0); /* unknown: ignored */
    assert_int_equal(uselect_poll_register(p, s, USELECT_POLL_DEFAULT), 0);
    assert_int_equal(uselect_poll_register(p, s, IN), 0); /* replaces */
    assert_int_equal(uselect_poll_modify(p, s, OUT), 0);
    assert_int_equal(uselect_poll_unregister(p, s), 0);
    assert_int_equal(uselect_poll_modify(p, s, OUT), -1);
    assert_oserror(UERRNO_ENOENT);
    uselect_event ev[1];
    assert_int_equal(uselect_poll_poll(p, 0, 0, ev, -1), -1);
    assert_int_equal(upy_exc_current()->type, UPY_EXC_VALUEERROR);
    assert_int_equal(uselect_poll_poll(NULL, 0, 0, ev, 1), -1);
    assert_int_equal(upy_exc_current()->type, UPY_EXC_TYPEERROR);
    usocket_release(s);
    uselect_poll_free(p);
}

static void test_mask_is_stored_unvalidated(void **state)
{
    struct fixture *f = *state;
    /* Bits the device never produces are accepted and kept; only the known ones can be reported. */
    assert_int_equal(uselect_poll_register(f->p, f->s, IN | 0x100 | 0x4000), 0);
    assert_int_equal(write(f->peer, "x", 1), 1);
    assert_int_equal(revents_of(f->p, f->s, 5000), IN);
    assert_int_equal(uselect_poll_modify(f->p, f->s, 0x100), 0);
    assert_int_equal(revents_of(f->p, f->s, 0), 0);
}

static void test_reregister_replaces_mask(void **state)
{
    struct fixture *f = *state;
    uselect_poller *p = f->p;
    usocket *s = f->s;
    int peer = f->peer;
    assert_int_equal(uselect_poll_register(p, s, IN | OUT), 0);
    assert_int_equal(revents_of(p, s, 1000), OUT);
    assert_int_equal(uselect_poll_register(p, s, IN), 0);
    assert_int_equal(revents_of(p, s, 0), 0);
    assert_int_equal(write(peer, "x", 1), 1);
    assert_int_equal(revents_of(p, s, 1000), IN);
}

/* --- the event rules -------------------------------------------------------------------- */

static void test_fresh_socket_reports_nothing(void **state)
{
    struct fixture *f = *state;
    uselect_poller *p = f->p;
    usocket *s = f->s;
    assert_int_equal(uselect_poll_register(p, s, IN | OUT | HUP | ERR), 0);
    /* Linux says EPOLLOUT|EPOLLHUP here; the device says nothing. */
    assert_int_equal(revents_of(p, s, 0), 0);
    assert_int_equal(revents_of(p, s, 20), 0);
}

static void test_connect_in_progress_reports_nothing(void **state)
{
    struct fixture *f = *state;
    uselect_poller *p = f->p;
    usocket *s = f->s;
    int port, filler, hole = tu_blackhole(&port, &filler);
    assert_int_equal(usocket_setblocking(s, false), 0);
    assert_int_equal(uselect_poll_register(p, s, IN | OUT | HUP | ERR), 0);
    usocket_addr a = tu_loopback(port);
    assert_int_equal(usocket_connect(s, &a), -1);
    assert_oserror(UERRNO_EINPROGRESS);
    assert_int_equal(revents_of(p, s, 0), 0);
    assert_int_equal(revents_of(p, s, 20), 0);
    close(filler);
    close(hole);
}

static void test_refused_connect_reports_21_then_17_sticky(void **state)
{
    struct fixture *f = *state;
    uselect_poller *p = f->p;
    usocket *s = f->s;
    assert_int_equal(usocket_setblocking(s, false), 0);
    assert_int_equal(uselect_poll_register(p, s, IN | OUT | HUP | ERR), 0);
    usocket_addr a = tu_loopback(tu_closed_port());
    assert_int_equal(usocket_connect(s, &a), -1);
    assert_oserror(UERRNO_EINPROGRESS);
    assert_int_equal(revents_of(p, s, 5000), 21);
    assert_int_equal(revents_of(p, s, 0), 21); /* sticky */
    assert_int_equal(uselect_poll_modify(p, s, IN | HUP | ERR), 0);
    assert_int_equal(revents_of(p, s, 0), 17);
    /* The error shows on I/O as the device's refusal: 104, and a new connect is 128. */
    char b[4];
    assert_int_equal(usocket_recv(s, b, sizeof b), -1);
    assert_oserror(UERRNO_ECONNRESET);
    assert_int_equal(usocket_connect(s, &a), -1);
    assert_oserror(UERRNO_ENOTCONN);
    assert_int_equal(revents_of(p, s, 0), 17);
}

static void test_reset_reports_hup_sticky(void **state)
{
    struct fixture *f = *state;
    uselect_poller *p = f->p;
    usocket *s = f->s;
    int peer = f->peer;
    assert_int_equal(uselect_poll_register(p, s, IN | HUP | ERR), 0);
    assert_int_equal(revents_of(p, s, 0), 0);
    tu_reset(peer);
    f->peer = -1;
    assert_int_equal(revents_of(p, s, 5000), 17);
    char b[4];
    assert_int_equal(usocket_recv(s, b, sizeof b), -1);
    assert_oserror(UERRNO_ECONNRESET);
    assert_int_equal(revents_of(p, s, 0), 17);
    /* Without HUP in the mask a reset shows as IN|OUT only (the default mask). */
    assert_int_equal(uselect_poll_modify(p, s, USELECT_POLL_DEFAULT), 0);
    assert_int_equal(revents_of(p, s, 0), IN | OUT);
}

static void test_orderly_close_is_pollin_until_read(void **state)
{
    struct fixture *f = *state;
    uselect_poller *p = f->p;
    usocket *s = f->s;
    int peer = f->peer;
    assert_int_equal(uselect_poll_register(p, s, IN | HUP | ERR), 0);
    assert_int_equal(revents_of(p, s, 0), 0);
    shutdown(peer, SHUT_WR); /* FIN */
    assert_int_equal(revents_of(p, s, 5000), IN);
    assert_int_equal(revents_of(p, s, 0), IN); /* until someone reads it */
    char b[4];
    assert_int_equal(usocket_recv(s, b, sizeof b), 0);
    /* lwIP took the FIN out of the mailbox: rcvevent is 0, the socket is not readable any more
     * (Linux would say readable forever), though recv keeps returning b''. */
    assert_int_equal(revents_of(p, s, 20), 0);
    assert_int_equal(usocket_recv(s, b, sizeof b), 0);
    assert_int_equal(uselect_poll_modify(p, s, IN | OUT | HUP), 0);
    assert_int_equal(revents_of(p, s, 1000), OUT);
    /* A later reset is still reported, as the sticky IN|OUT|HUP. */
    assert_int_equal(usocket_send(s, "x", 1), 1);
    tu_reset(peer);
    f->peer = -1;
    assert_int_equal(revents_of(p, s, 5000), IN | OUT | HUP);
}

static void test_pollerr_never_reported(void **state)
{
    struct fixture *f = *state;
    uselect_poller *p = f->p;
    usocket *s = f->s;
    int peer = f->peer;
    assert_int_equal(uselect_poll_register(p, s, ERR), 0);
    tu_reset(peer);
    f->peer = -1;
    assert_int_equal(revents_of(p, s, 50), 0);
    assert_int_equal(uselect_poll_modify(p, s, ERR | OUT), 0);
    assert_int_equal(revents_of(p, s, 5000), OUT);
}

static void test_closed_socket_stays_registered_and_silent(void **state)
{
    struct fixture *f = *state;
    uselect_poller *p = f->p;
    usocket *s = f->s;
    int peer = f->peer;
    assert_int_equal(uselect_poll_register(p, s, IN | OUT | HUP | ERR), 0);
    assert_int_equal(revents_of(p, s, 1000), OUT);
    assert_int_equal(usocket_close(s), 0);
    assert_int_equal(write(peer, "x", 1), 1);
    /* Every object closed: poll sleeps to its timeout (the device spins; we block). */
    uint64_t cpu = tu_cpu_ms(), start = tu_now_ms();
    assert_int_equal(revents_of(p, s, 200), 0);
    uint64_t waited = tu_now_ms() - start;
    assert_true(waited >= 200);
    assert_true(tu_cpu_ms() - cpu < 100);
    /* Still registered: modify works, unregister too. */
    assert_int_equal(uselect_poll_modify(p, s, IN), 0);
    assert_int_equal(uselect_poll_unregister(p, s), 0);
}

static void test_reused_fd_never_reported_under_old_object(void **state)
{
    (void)state;
    int peer1, port, listener = tu_listener(&port);
    usocket *old = tu_usock_connected(&peer1);
    int old_fd = tu_kernel_fd(old);
    uselect_poller *p = uselect_poll();
    assert_int_equal(uselect_poll_register(p, old, IN), 0);
    assert_int_equal(usocket_close(old), 0);
    usocket *fresh = tu_tcp(); /* the kernel hands out the lowest free fd: old's */
    assert_int_equal(tu_kernel_fd(fresh), old_fd);
    usocket_addr a = tu_loopback(port);
    assert_int_equal(usocket_connect(fresh, &a), 0);
    int peer2 = tu_accept(listener, 5000);
    close(listener);
    close(peer1);
    assert_int_equal(write(peer2, "x", 1), 1);
    assert_int_equal(revents_of(p, old, 20), 0);
    assert_int_equal(uselect_poll_register(p, fresh, IN), 0);
    uselect_event ev[4];
    assert_int_equal(uselect_poll_poll(p, 1000, 0, ev, 4), 1);
    assert_ptr_equal(ev[0].obj, fresh);
    assert_int_equal(ev[0].revents, IN);
    uselect_poll_free(p);
    usocket_release(old);
    usocket_release(fresh);
    close(peer2);
}

static void test_listening_socket_pending_is_pollin(void **state)
{
    (void)state;
    usocket *l = tu_tcp();
    usocket_addr a = tu_loopback(0);
    assert_int_equal(usocket_bind(l, &a), 0);
    uselect_poller *p = uselect_poll();
    assert_int_equal(uselect_poll_register(p, l, IN | OUT | HUP), 0);
    assert_int_equal(revents_of(p, l, 0), 0); /* bound, not listening: fresh */
    assert_int_equal(usocket_listen(l, 2), 0);
    assert_int_equal(revents_of(p, l, 0), 0);
    int c = tu_connect(tu_usock_port(l));
    assert_int_equal(revents_of(p, l, 5000), IN);
    usocket *child = usocket_accept(l, NULL);
    assert_non_null(child);
    assert_int_equal(revents_of(p, l, 0), 0);
    usocket_release(child);
    uselect_poll_free(p);
    usocket_release(l);
    close(c);
}

/* A raw peer reading `len` bytes in another thread (the drain that makes room again). */
struct drain {
    int peer;
    size_t len;
    ssize_t got;
    pthread_t thread;
};

static void *drain_peer(void *arg)
{
    struct drain *d = arg;
    static char sink[1 << 16];
    d->got = 0;
    while ((size_t)d->got < d->len) {
        size_t want = d->len - (size_t)d->got < sizeof sink ? d->len - (size_t)d->got : sizeof sink;
        ssize_t n = tu_read_exact(d->peer, sink, want, 10000);
        if (n <= 0)
            break;
        d->got += n;
    }
    return NULL;
}

/* lwIP's sendevent: past TCP_SNDLOWAT (2873 bytes of room in 5744) a socket is not writable,
 * whatever the kernel says, so "poll for POLLOUT, then send" never meets OSError(11). A poll
 * waiting on a full buffer sleeps, and sees the room come back when the peer reads. */
static void test_full_send_buffer_is_not_pollout(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(usocket_setblocking(f->s, false), 0);
    size_t total = tu_usock_fill(f->s, f->peer);
    assert_int_equal(uselect_poll_register(f->p, f->s, IN | OUT), 0);
    assert_int_equal(revents_of(f->p, f->s, 0), 0);
    usocket *w[] = {f->s}, *none[1];
    int nr = 0, nw = 1, nx = 0;
    assert_int_equal(uselect_select(none, &nr, w, &nw, none, &nx, 0), 0);
    assert_int_equal(nw, 0);
    /* A timed wait sleeps: a few wake-ups to look at the room, not a spin. */
    uint64_t cpu = tu_cpu_ms(), start = tu_now_ms();
    assert_int_equal(revents_of(f->p, f->s, 300), 0);
    assert_true(tu_now_ms() - start >= 300);
    assert_true(tu_cpu_ms() - cpu < 30);
    /* The peer reads everything while a poll waits: POLLOUT again, and send takes bytes. */
    struct drain d = {.peer = f->peer, .len = total};
    assert_int_equal(pthread_create(&d.thread, NULL, drain_peer, &d), 0);
    int revents = revents_of(f->p, f->s, 10000);
    pthread_join(d.thread, NULL);
    assert_int_equal(d.got, (ssize_t)total);
    assert_int_equal(revents, OUT);
    assert_int_equal(usocket_send(f->s, "x", 1), 1);
}

static void test_udp_always_writable(void **state)
{
    (void)state;
    usocket *u = usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_DGRAM, 0);
    uselect_poller *p = uselect_poll();
    assert_int_equal(uselect_poll_register(p, u, IN | OUT | HUP | ERR), 0);
    assert_int_equal(revents_of(p, u, 0), OUT);
    usocket_addr a = tu_loopback(0);
    assert_int_equal(usocket_bind(u, &a), 0);
    usocket_addr self = tu_loopback(tu_usock_port(u));
    assert_int_equal(usocket_sendto(u, "d", 1, &self), 1);
    assert_int_equal(revents_of(p, u, 1000), IN | OUT);
    uselect_poll_free(p);
    usocket_release(u);
}

static void test_poll_zero_sees_data_already_there(void **state)
{
    struct fixture *f = *state;
    uselect_poller *p = f->p;
    usocket *s = f->s;
    int peer = f->peer;
    assert_int_equal(write(peer, "abc", 3), 3);
    char b[1];
    assert_int_equal(usocket_recv(s, b, 1), 1); /* the data has arrived; two bytes stay queued */
    /* Registered after the data arrived, polled without waiting. */
    assert_int_equal(uselect_poll_register(p, s, IN), 0);
    assert_int_equal(revents_of(p, s, 0), IN);
}

static void test_timeout_accuracy(void **state)
{
    struct fixture *f = *state;
    uselect_poller *p = f->p;
    usocket *s = f->s;
    assert_int_equal(uselect_poll_register(p, s, IN), 0);
    for (int ms = 1; ms <= 64; ms *= 4) {
        uint64_t start = tu_now_ms();
        assert_int_equal(revents_of(p, s, ms), 0);
        uint64_t took = tu_now_ms() - start;
        assert_true(took >= (uint64_t)ms);
        assert_true(took < (uint64_t)ms + 50); /* generous for a loaded CI machine */
    }
}

static void test_oneshot_disarms_until_modify(void **state)
{
    struct fixture *f = *state;
    uselect_poller *p = f->p;
    usocket *s = f->s;
    int peer = f->peer;
    assert_int_equal(uselect_poll_register(p, s, IN | OUT), 0);
    uselect_event ev[2];
    assert_int_equal(uselect_poll_poll(p, 1000, USELECT_FLAG_ONESHOT, ev, 2), 1);
    assert_int_equal(ev[0].revents, OUT);
    assert_int_equal(uselect_poll_poll(p, 20, USELECT_FLAG_ONESHOT, ev, 2), 0);
    assert_int_equal(write(peer, "x", 1), 1);
    assert_int_equal(uselect_poll_poll(p, 20, 0, ev, 2), 0);
    assert_int_equal(uselect_poll_modify(p, s, IN), 0);
    assert_int_equal(uselect_poll_poll(p, 1000, 0, ev, 2), 1);
    assert_int_equal(ev[0].revents, IN);
}

static void test_ipoll_reuses_one_tuple(void **state)
{
    (void)state;
    int peer1, peer2;
    usocket *a = tu_usock_connected(&peer1), *b = tu_usock_connected(&peer2);
    uselect_poller *p = uselect_poll();
    assert_int_equal(uselect_poll_register(p, a, OUT), 0);
    assert_int_equal(uselect_poll_register(p, b, OUT), 0);
    assert_int_equal(uselect_poll_ipoll(p, 1000, USELECT_FLAG_ONESHOT), 2);
    const uselect_event *first = uselect_poll_next(p);
    usocket *first_obj = first->obj;
    const uselect_event *second = uselect_poll_next(p);
    assert_ptr_equal(first, second); /* one reused tuple */
    assert_true(second->obj != first_obj);
    assert_int_equal(second->revents, OUT);
    assert_null(uselect_poll_next(p));
    assert_int_equal(uselect_poll_ipoll(p, 20, 0), 0); /* both disarmed as they were yielded */
    uselect_poll_free(p);
    usocket_release(a);
    usocket_release(b);
    close(peer1);
    close(peer2);
}

static void test_select_merges_and_splits(void **state)
{
    (void)state;
    int peer1, peer2;
    usocket *a = tu_usock_connected(&peer1), *b = tu_usock_connected(&peer2);
    assert_int_equal(write(peer1, "x", 1), 1);
    tu_reset(peer2);
    usocket *r[2] = {a, b}, *w[1] = {a}, *x[2] = {a, b};
    int nr = 2, nw = 1, nx = 2;
    assert_int_equal(uselect_select(r, &nr, w, &nw, x, &nx, 5.0), 4);
    assert_int_equal(nr, 2); /* a has data; b is dead, which reads as readable */
    assert_int_equal(nw, 1);
    assert_ptr_equal(w[0], a);
    assert_int_equal(nx, 1);
    assert_ptr_equal(x[0], b); /* only the dead one is "exceptional" */
    /* Nothing ready in time: empty lists. */
    usocket *fresh = tu_tcp();
    usocket *r2[1] = {fresh};
    int one = 1, zero = 0;
    assert_int_equal(uselect_select(r2, &one, NULL, &zero, NULL, &zero, 0.02), 0);
    assert_int_equal(one, 0);
    usocket_release(fresh);
    usocket_release(a);
    usocket_release(b);
    close(peer1);
}

/* --- threads ---------------------------------------------------------------------------- */

struct waiter {
    uselect_poller *p;
    int timeout_ms; /* 0: 10 s, a bound for tests that expect an early return */
    int n;
    uselect_event ev[4];
};

static void *poll_forever(void *arg)
{
    struct waiter *w = arg;
    w->n = uselect_poll_poll(w->p, w->timeout_ms ? w->timeout_ms : 10000, 0, w->ev, 4);
    return NULL;
}


static void test_register_from_another_thread_wakes_poll(void **state)
{
    (void)state;
    int peer;
    usocket *s = tu_usock_connected(&peer);
    assert_int_equal(write(peer, "x", 1), 1);
    struct waiter w = {.p = uselect_poll()};
    pthread_t t;
    uint64_t start = tu_now_ms();
    assert_int_equal(pthread_create(&t, NULL, poll_forever, &w), 0);
    assert_int_equal(uselect_poll_register(w.p, s, IN), 0);
    pthread_join(t, NULL);
    assert_true(tu_now_ms() - start < 5000);
    assert_int_equal(w.n, 1);
    assert_ptr_equal(w.ev[0].obj, s);
    assert_int_equal(w.ev[0].revents, IN);
    uselect_poll_free(w.p);
    usocket_release(s);
    close(peer);
}

static void test_close_from_another_thread_is_never_reported(void **state)
{
    (void)state;
    int peer;
    usocket *s = tu_usock_connected(&peer);
    struct waiter w = {.p = uselect_poll()};
    assert_int_equal(uselect_poll_register(w.p, s, IN | HUP), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, poll_forever, &w), 0);
    assert_int_equal(usocket_close(s), 0);
    tu_reset(peer); /* would be HUP for an open socket */
    /* The poller must not report the closed socket; stop it by giving it something real. */
    int peer2;
    usocket *other = tu_usock_connected(&peer2);
    assert_int_equal(write(peer2, "y", 1), 1);
    assert_int_equal(uselect_poll_register(w.p, other, IN), 0);
    pthread_join(t, NULL);
    assert_int_equal(w.n, 1);
    assert_ptr_equal(w.ev[0].obj, other);
    uselect_poll_free(w.p);
    usocket_release(s);
    usocket_release(other);
    close(peer2);
}

static void test_poll_forever_with_only_closed_sockets_never_returns(void **state)
{
    (void)state;
    int peer;
    usocket *s = tu_usock_connected(&peer);
    struct waiter w = {.p = uselect_poll(), .timeout_ms = -1};
    assert_int_equal(uselect_poll_register(w.p, s, IN | OUT | HUP), 0);
    assert_int_equal(usocket_close(s), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, poll_forever, &w), 0);
    bool waited = tu_thread_still_running(t, STILL_WAITING_MS);
    /* End the wait the only way the board's program could: give the poller something live. */
    int peer2;
    usocket *other = tu_usock_connected(&peer2);
    assert_int_equal(write(peer2, "y", 1), 1);
    assert_int_equal(uselect_poll_register(w.p, other, IN), 0);
    if (waited)
        pthread_join(t, NULL);
    assert_true(waited);
    assert_int_equal(w.n, 1);
    assert_ptr_equal(w.ev[0].obj, other);
    uselect_poll_free(w.p);
    usocket_release(s);
    usocket_release(other);
    close(peer);
    close(peer2);
}

struct selector {
    usocket *r[1];
    int nr;
    double timeout_s;
    int n;
};

static void *select_in_thread(void *arg)
{
    struct selector *sel = arg;
    int zero = 0;
    sel->n = uselect_select(sel->r, &sel->nr, NULL, &zero, NULL, &zero, sel->timeout_s);
    return NULL;
}

static void test_select_with_a_negative_timeout_waits_forever(void **state)
{
    (void)state;
    int peer;
    usocket *s = tu_usock_connected(&peer);
    struct selector sel = {.r = {s}, .nr = 1, .timeout_s = -1.0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, select_in_thread, &sel), 0);
    bool waited = tu_thread_still_running(t, STILL_WAITING_MS);
    assert_int_equal(write(peer, "x", 1), 1);
    if (waited)
        pthread_join(t, NULL);
    assert_true(waited);
    assert_int_equal(sel.n, 1);
    assert_int_equal(sel.nr, 1);
    assert_ptr_equal(sel.r[0], s);
    usocket_release(s);
    close(peer);
}

/* --- scale ------------------------------------------------------------------------------ */

static void test_thousand_idle_sockets_one_active_pair(void **state)
{
    (void)state;
    enum { IDLE = 1000 };
    tu_raise_fd_limit();
    assert_int_equal(upy_config_limit(UPY_LIMIT_MAX_SOCKETS, IDLE + 16), 0);
    uselect_poller *p = uselect_poll();
    usocket *idle[IDLE];
    for (int i = 0; i < IDLE; i++) {
        idle[i] = usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_DGRAM, 0);
        assert_non_null(idle[i]);
        assert_int_equal(uselect_poll_register(p, idle[i], IN | HUP), 0);
    }
    int peer;
    usocket *s = tu_usock_connected(&peer);
    assert_int_equal(uselect_poll_register(p, s, IN), 0);
    for (int round = 0; round < 200; round++) {
        char c = (char)round, got;
        assert_int_equal(write(peer, &c, 1), 1);
        uselect_event ev[8];
        assert_int_equal(uselect_poll_poll(p, 5000, 0, ev, 8), 1);
        assert_ptr_equal(ev[0].obj, s);
        assert_int_equal(ev[0].revents, IN);
        assert_int_equal(usocket_recv(s, &got, 1), 1);
        assert_int_equal(got, c);
    }
    uselect_poll_free(p);
    for (int i = 0; i < IDLE; i++)
        usocket_release(idle[i]);
    usocket_release(s);
    close(peer);
    assert_int_equal(upy_config_profile("pycom-1.20.2"), 0);
}

/* What an event loop or a binding hangs on the poll object; the result's obj is the registered
 * handle itself, whose own pointer leads back to the caller's object. */
static void test_poll_object_and_result_lead_back_to_the_callers_objects(void **state)
{
    (void)state;
    static int loop, wrapper;
    uselect_poller *p = uselect_poll();
    assert_null(uselect_poll_get_data(p));
    assert_int_equal(uselect_poll_set_data(p, &loop), 0);
    assert_ptr_equal(uselect_poll_get_data(p), &loop);
    usocket *s = tu_udp();
    assert_int_equal(usocket_set_data(s, &wrapper), 0);
    assert_int_equal(uselect_poll_register(p, s, USELECT_POLLOUT), 0);
    uselect_event ev[1];
    assert_int_equal(uselect_poll_poll(p, 1000, 0, ev, 1), 1);
    assert_ptr_equal(usocket_get_data(ev[0].obj), &wrapper);
    assert_int_equal(uselect_poll_set_data(NULL, &loop), -1);
    assert_exc_msg(UPY_EXC_TYPEERROR, "expected a poll object, got NULL");
    uselect_poll_free(p);
    usocket_release(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interest_rules),
        cmocka_unit_test(test_revents_rules),
        cmocka_unit_test(test_register_modify_unregister_errors),
        cmocka_unit_test_setup_teardown(test_mask_is_stored_unvalidated, setup_connected, teardown),
        cmocka_unit_test_setup_teardown(test_reregister_replaces_mask, setup_connected, teardown),
        cmocka_unit_test_setup_teardown(test_fresh_socket_reports_nothing, setup_fresh, teardown),
        cmocka_unit_test_setup_teardown(test_connect_in_progress_reports_nothing, setup_fresh, teardown),
        cmocka_unit_test_setup_teardown(test_refused_connect_reports_21_then_17_sticky, setup_fresh, teardown),
        cmocka_unit_test_setup_teardown(test_reset_reports_hup_sticky, setup_connected, teardown),
        cmocka_unit_test_setup_teardown(test_orderly_close_is_pollin_until_read, setup_connected, teardown),
        cmocka_unit_test_setup_teardown(test_pollerr_never_reported, setup_connected, teardown),
        cmocka_unit_test_setup_teardown(test_closed_socket_stays_registered_and_silent, setup_connected, teardown),
        cmocka_unit_test(test_reused_fd_never_reported_under_old_object),
        cmocka_unit_test(test_listening_socket_pending_is_pollin),
        cmocka_unit_test(test_udp_always_writable),
        cmocka_unit_test_setup_teardown(test_full_send_buffer_is_not_pollout, setup_connected, teardown),
        cmocka_unit_test_setup_teardown(test_poll_zero_sees_data_already_there, setup_connected, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_accuracy, setup_fresh, teardown),
        cmocka_unit_test_setup_teardown(test_oneshot_disarms_until_modify, setup_connected, teardown),
        cmocka_unit_test(test_ipoll_reuses_one_tuple),
        cmocka_unit_test(test_select_merges_and_splits),
        cmocka_unit_test(test_register_from_another_thread_wakes_poll),
        cmocka_unit_test(test_close_from_another_thread_is_never_reported),
        cmocka_unit_test(test_poll_forever_with_only_closed_sockets_never_returns),
        cmocka_unit_test(test_select_with_a_negative_timeout_waits_forever),
        cmocka_unit_test(test_thousand_idle_sockets_one_active_pair),
        cmocka_unit_test(test_poll_object_and_result_lead_back_to_the_callers_objects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
