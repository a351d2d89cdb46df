/* The `delay` effect: the bytes are held in flight (docs/faults.md). What the peer sends becomes
 * readable, and pollable, for the device only after the latency and no faster than the rate; what
 * the device sends reaches the peer as late; a full capped link makes the device's send block,
 * time out or would-block; a connect takes the round trip, and the peer sees the device's port.
 * Timing is asserted as lower bounds only: a slow machine may add, never take away. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <upysock/uerrno.h>
#include <upysock/uselect.h>
#include <upysock/usocket.h>
#include <upysock/ussl.h>

#include "testutil.h"
#include "tlspeer.h"

#define IN_OUT_HUP (USELECT_POLLIN | USELECT_POLLOUT | USELECT_POLLHUP)
#define LATENCY_MS 200
#define WAIT_MS 5000

enum mode { BLOCKING, TIMED, NON_BLOCKING };

static void set_mode(usocket *s, enum mode m)
{
    if (m == TIMED)
        assert_int_equal(usocket_settimeout(s, 0.05), 0);
    else
        assert_int_equal(usocket_setblocking(s, m == BLOCKING), 0);
}

/* The rules with the peer's port in them (each %d). */
static void faults(const char *rules, int port)
{
    char text[256];
    snprintf(text, sizeof text, rules, port, port);
    if (upy_config_faults(text) < 0)
        fail_msg("rules '%s' rejected: %s", text, tu_exc_text());
}

/* A blocking socket connected, under the rules, to a raw kernel peer: its fd in *peer. */
static usocket *connected(const char *rules, int *peer)
{
    int port, listener = tu_listener(&port);
    faults(rules, port);
    return tu_usock_connected_via(listener, port, peer);
}

static int poll_once(usocket *s, int mask, int timeout_ms)
{
    uselect_poller *p = uselect_poll();
    assert_int_equal(uselect_poll_register(p, s, mask), 0);
    uselect_event ev[1];
    int n = uselect_poll_poll(p, timeout_ms, 0, ev, 1);
    uselect_poll_free(p);
    assert_true(n >= 0);
    return n ? ev[0].revents : 0;
}

/* --- latency -------------------------------------------------------------------------------------- */

/* The peer's bytes are in flight for the latency: a non-blocking recv finds nothing (b''), poll
 * reports nothing, then POLLIN once they are due, and they read whole. */
static void test_fault_delay_recv_bytes_are_unseen_by_recv_and_poll_until_due(void **state)
{
    (void)state;
    int peer;
    usocket *s = connected("delay *:%d delay=200ms dir=recv", &peer);
    set_mode(s, NON_BLOCKING);
    uint64_t t0 = tu_now_ms();
    tu_peer_send(peer, "hello");
    char b[16];
    assert_int_equal(usocket_recv(s, b, sizeof b), 0); /* the board's non-blocking recv: b'' */
    assert_int_equal(poll_once(s, USELECT_POLLIN, 0), 0);
    assert_int_equal(poll_once(s, USELECT_POLLIN, WAIT_MS), USELECT_POLLIN);
    assert_true(tu_now_ms() - t0 >= LATENCY_MS);
    assert_int_equal(usocket_recv(s, b, sizeof b), 5);
    assert_memory_equal(b, "hello", 5);
    close(peer);
    usocket_release(s);
}

/* A blocking recv waits for the bytes' due time; a timed one that ends first is the board's
 * TimeoutError. */
static void test_fault_delay_recv_blocking_waits_and_timed_times_out(void **state)
{
    (void)state;
    int peer;
    usocket *s = connected("delay *:%d delay=200ms dir=recv", &peer);
    set_mode(s, TIMED);
    uint64_t t0 = tu_now_ms();
    tu_peer_send(peer, "abc");
    char b[16];
    assert_int_equal(usocket_recv(s, b, sizeof b), -1);
    assert_int_equal(upy_exc_current()->type, UPY_EXC_TIMEOUTERROR);
    set_mode(s, BLOCKING);
    assert_int_equal(usocket_recv(s, b, sizeof b), 3);
    assert_true(tu_now_ms() - t0 >= LATENCY_MS);
    close(peer);
    usocket_release(s);
}

/* What the device sends reaches the peer after the latency, in every mode; the send itself
 * returns at once (the bytes are in flight, not held in the call). */
static void test_fault_delay_send_reaches_the_peer_after_the_latency_in_every_mode(void **state)
{
    (void)state;
    for (enum mode m = BLOCKING; m <= NON_BLOCKING; m++) {
        int peer;
        usocket *s = connected("delay *:%d delay=200ms dir=send", &peer);
        set_mode(s, m);
        uint64_t t0 = tu_now_ms();
        assert_int_equal(usocket_send(s, "ping", 4), 4);
        assert_false(tu_readable(peer, 0));
        char b[8];
        assert_int_equal(tu_read_exact(peer, b, 4, WAIT_MS), 4);
        assert_true(tu_now_ms() - t0 >= LATENCY_MS);
        assert_memory_equal(b, "ping", 4);
        close(peer);
        usocket_release(s);
    }
}

/* Jitter never reorders: each byte comes at least the latency late, all in the order sent. */
static void test_fault_delay_jitter_keeps_the_order(void **state)
{
    (void)state;
    int peer;
    usocket *s = connected("delay *:%d delay=100ms jitter=100ms dir=recv", &peer);
    uint64_t t0 = tu_now_ms();
    char sent[21] = "abcdefghijklmnopqrst", got[21] = {0};
    for (int i = 0; i < 20; i++)
        assert_int_equal(send(peer, &sent[i], 1, 0), 1);
    for (int n = 0; n < 20;) {
        ssize_t k = usocket_recv(s, got + n, (size_t)(20 - n));
        assert_true(k > 0);
        assert_true(tu_now_ms() - t0 >= 100);
        n += (int)k;
    }
    assert_string_equal(got, sent);
    close(peer);
    usocket_release(s);
}

/* A server's accepted connection is delayed too (a rule with the server's port selects them when
 * it was bound to one: this one binds port 0). */
static void test_fault_delay_on_an_accepted_connection(void **state)
{
    (void)state;
    int port;
    usocket *l = tu_usock_listener(2, &port);
    faults("delay delay=200ms dir=recv", port);
    int client = tu_connect(port);
    usocket *s = usocket_accept(l, NULL);
    assert_non_null(s);
    uint64_t t0 = tu_now_ms();
    tu_peer_send(client, "hi");
    assert_int_equal(poll_once(s, USELECT_POLLIN, 0), 0);
    assert_int_equal(poll_once(s, USELECT_POLLIN, WAIT_MS), USELECT_POLLIN);
    assert_true(tu_now_ms() - t0 >= LATENCY_MS);
    char b[4];
    assert_int_equal(usocket_recv(s, b, sizeof b), 2);
    close(client);
    usocket_release(s);
    usocket_release(l);
}

/* --- the bandwidth cap --------------------------------------------------------------------------------- */

/* 40000 bytes at 40000 bytes/s take a second to reach the peer (less one segment, which may be
 * on its way when the clock starts), and the line waits, it does not spin. */
static void test_fault_delay_rate_caps_the_bandwidth_without_spinning(void **state)
{
    (void)state;
    enum { N = 40000, RATE = 40000, SEGMENT = 1436 };
    static char data[N], got[N];
    memset(data, 'r', sizeof data);
    int peer;
    usocket *s = connected("delay *:%d rate=40000 dir=send", &peer);
    uint64_t t0 = tu_now_ms(), cpu0 = tu_cpu_ms();
    assert_int_equal(usocket_send(s, data, N), N); /* a blocking send queues everything */
    assert_int_equal(tu_read_exact(peer, got, N, 10000), N);
    assert_true(tu_now_ms() - t0 >= (uint64_t)(N - SEGMENT) * 1000 / RATE);
    assert_true(tu_cpu_ms() - cpu0 < 500);
    assert_memory_equal(got, data, N);
    close(peer);
    usocket_release(s);
}

/* When the capped link is full, a non-blocking send is the board's OSError(11) and a timed one
 * its TimeoutError, although the peer reads everything that arrives. */
static void test_fault_delay_full_capped_link_would_block_and_times_out(void **state)
{
    (void)state;
    static char chunk[1000];
    for (enum mode m = TIMED; m <= NON_BLOCKING; m++) {
        int peer;
        usocket *s = connected("delay *:%d rate=1000 dir=send", &peer);
        set_mode(s, m);
        int sends = 0;
        while (usocket_send(s, chunk, sizeof chunk) > 0 && sends < 200)
            sends++;
        assert_true(sends < 40); /* the board holds 11.5 kB (send buffer + window); the line a few more */
        if (m == TIMED)
            assert_int_equal(upy_exc_current()->type, UPY_EXC_TIMEOUTERROR);
        else
            assert_oserror(UERRNO_EAGAIN);
        close(peer);
        usocket_release(s);
    }
}

/* --- ends of the connection ------------------------------------------------------------------------- */

/* The peer's FIN comes after its bytes, late: the bytes, then b''. */
static void test_fault_delay_peer_fin_arrives_after_the_latency(void **state)
{
    (void)state;
    int peer;
    usocket *s = connected("delay *:%d delay=200ms dir=recv", &peer);
    uint64_t t0 = tu_now_ms();
    tu_peer_send(peer, "x");
    close(peer);
    assert_int_equal(poll_once(s, USELECT_POLLIN, 0), 0);
    char b[4];
    assert_int_equal(usocket_recv(s, b, sizeof b), 1);
    assert_true(tu_now_ms() - t0 >= LATENCY_MS);
    assert_int_equal(usocket_recv(s, b, sizeof b), 0);
    usocket_release(s);
}

/* The peer's RST comes late too, and then is the board's reset: OSError(104), HUP sticky. */
static void test_fault_delay_peer_reset_arrives_after_the_latency_as_104(void **state)
{
    (void)state;
    int peer;
    usocket *s = connected("delay *:%d delay=200ms dir=recv", &peer);
    uint64_t t0 = tu_now_ms();
    tu_reset(peer);
    assert_int_equal(poll_once(s, USELECT_POLLIN, 0), 0);
    assert_int_equal(poll_once(s, USELECT_POLLIN, WAIT_MS), USELECT_POLLIN);
    assert_true(tu_now_ms() - t0 >= LATENCY_MS);
    assert_int_equal(poll_once(s, IN_OUT_HUP, 0), IN_OUT_HUP);
    char b[4];
    assert_int_equal(usocket_recv(s, b, sizeof b), -1);
    assert_oserror(UERRNO_ECONNRESET);
    assert_int_equal(poll_once(s, IN_OUT_HUP, 0), IN_OUT_HUP); /* sticky */
    assert_int_equal(usocket_recv(s, b, sizeof b), -1);
    assert_oserror(UERRNO_ECONNRESET);
    usocket_release(s);
}

/* The device's close reaches the peer as its FIN, after what it sent, late. */
static void test_fault_delay_device_close_reaches_the_peer_late(void **state)
{
    (void)state;
    int peer;
    usocket *s = connected("delay *:%d delay=200ms dir=send", &peer);
    uint64_t t0 = tu_now_ms();
    assert_int_equal(usocket_send(s, "bye", 3), 3);
    usocket_close(s);
    char b[8];
    assert_int_equal(tu_read_exact(peer, b, sizeof b, WAIT_MS), 3); /* then EOF */
    assert_true(tu_now_ms() - t0 >= LATENCY_MS);
    close(peer);
    usocket_release(s);
}

/* --- connect ------------------------------------------------------------------------------------------ */

/* The handshake crosses the slow link: the SYN reaches the peer after the OUT latency, its answer
 * the device after the IN latency more. */
#define SLOW_LINK "delay *:%d delay=150ms dir=send; delay *:%d delay=100ms dir=recv"
#define OUT_MS 150
#define ROUND_TRIP_MS 250

/* A blocking connect returns after the round trip. */
static void test_fault_delay_blocking_connect_takes_the_round_trip(void **state)
{
    (void)state;
    int port, listener = tu_listener(&port);
    faults(SLOW_LINK, port);
    usocket *s = tu_tcp();
    usocket_addr a = tu_loopback(port);
    uint64_t t0 = tu_now_ms();
    assert_int_equal(usocket_connect(s, &a), 0);
    assert_true(tu_now_ms() - t0 >= ROUND_TRIP_MS);
    int peer = tu_accept(listener, WAIT_MS);
    assert_true(peer >= 0);
    close(peer);
    close(listener);
    usocket_release(s);
}

/* A non-blocking connect is in progress, the peer hears of it after the OUT latency, and poll
 * reports the socket writable only after the round trip. */
static void test_fault_delay_non_blocking_connect_polls_writable_after_the_round_trip(void **state)
{
    (void)state;
    int port, listener = tu_listener(&port);
    faults(SLOW_LINK, port);
    usocket *s = tu_tcp();
    set_mode(s, NON_BLOCKING);
    usocket_addr a = tu_loopback(port);
    uint64_t t0 = tu_now_ms();
    assert_int_equal(usocket_connect(s, &a), -1);
    assert_oserror(UERRNO_EINPROGRESS);
    assert_int_equal(poll_once(s, USELECT_POLLOUT, 0), 0);
    int peer = tu_accept(listener, WAIT_MS);
    assert_true(peer >= 0);
    assert_true(tu_now_ms() - t0 >= OUT_MS);
    assert_int_equal(poll_once(s, USELECT_POLLOUT, WAIT_MS), USELECT_POLLOUT);
    assert_true(tu_now_ms() - t0 >= ROUND_TRIP_MS);
    close(peer);
    close(listener);
    usocket_release(s);
}

/* A timed connect whose timeout ends before the round trip is the board's timed-connect timeout
 * (the `hang` row): TimeoutError, the socket closed. A longer one connects after the round trip. */
static void test_fault_delay_timed_connect_shorter_than_the_round_trip_times_out(void **state)
{
    (void)state;
    int port, listener = tu_listener(&port);
    faults(SLOW_LINK, port);
    usocket_addr a = tu_loopback(port);
    usocket *s = tu_tcp();
    assert_int_equal(usocket_settimeout(s, 0.1), 0);
    uint64_t t0 = tu_now_ms();
    assert_int_equal(usocket_connect(s, &a), -1);
    assert_int_equal(upy_exc_current()->type, UPY_EXC_TIMEOUTERROR);
    assert_true(tu_now_ms() - t0 >= 100);
    assert_int_equal(usocket_fileno(s), -1); /* the timed path closed it */
    usocket_release(s);

    s = tu_tcp();
    assert_int_equal(usocket_settimeout(s, 5), 0);
    t0 = tu_now_ms();
    assert_int_equal(usocket_connect(s, &a), 0);
    assert_true(tu_now_ms() - t0 >= ROUND_TRIP_MS);
    assert_int_equal(usocket_send(s, "up", 2), 2);
    close(listener);
    usocket_release(s);
}

/* A refused delayed connect is the board's, after the round trip: blocking 104; timed connected,
 * then 104; non-blocking 119, then poll IN|OUT|HUP and recv 104. */
static void test_fault_delay_refused_connect_is_the_boards(void **state)
{
    (void)state;
    int port = tu_closed_port();
    faults(SLOW_LINK, port);
    usocket_addr a = tu_loopback(port);
    usocket *s = tu_tcp();
    uint64_t t0 = tu_now_ms();
    assert_int_equal(usocket_connect(s, &a), -1);
    assert_oserror(UERRNO_ECONNRESET);
    assert_true(tu_now_ms() - t0 >= ROUND_TRIP_MS);
    usocket_release(s);

    s = tu_tcp();
    assert_int_equal(usocket_settimeout(s, 5), 0);
    t0 = tu_now_ms();
    assert_int_equal(usocket_connect(s, &a), 0);
    assert_true(tu_now_ms() - t0 >= ROUND_TRIP_MS);
    char b[4];
    assert_int_equal(usocket_recv(s, b, sizeof b), -1);
    assert_oserror(UERRNO_ECONNRESET);
    usocket_release(s);

    s = tu_tcp();
    set_mode(s, NON_BLOCKING);
    t0 = tu_now_ms();
    assert_int_equal(usocket_connect(s, &a), -1);
    assert_oserror(UERRNO_EINPROGRESS);
    assert_int_equal(poll_once(s, IN_OUT_HUP, 0), 0);
    assert_int_equal(poll_once(s, IN_OUT_HUP, WAIT_MS), IN_OUT_HUP);
    assert_true(tu_now_ms() - t0 >= ROUND_TRIP_MS);
    assert_int_equal(poll_once(s, IN_OUT_HUP, 0), IN_OUT_HUP); /* sticky */
    assert_int_equal(usocket_recv(s, b, sizeof b), -1);
    assert_oserror(UERRNO_ECONNRESET);
    usocket_release(s);
}

static ssize_t bg_connect(tu_bg *bg)
{
    usocket_addr to = tu_loopback((int)(intptr_t)bg->arg);
    return usocket_connect(bg->s, &to);
}

/* A blocking or timed delayed connect waiting for its answer ends as a plain one does when another
 * thread closes the socket: OSError(9) (test_hostile, test_close_wakes_connect). */
static void test_fault_delay_close_from_another_thread_ends_the_connect_with_9(void **state)
{
    (void)state;
    for (enum mode m = BLOCKING; m <= TIMED; m++) {
        int port, listener = tu_listener(&port);
        faults("delay *:%d delay=5s", port);
        usocket *s = tu_tcp();
        if (m == TIMED)
            assert_int_equal(usocket_settimeout(s, 30), 0);
        tu_bg bg = {.s = s, .arg = (void *)(intptr_t)port};
        tu_bg_start(&bg, bg_connect);
        bool blocked = tu_bg_blocked(&bg, WAIT_MS);
        assert_int_equal(usocket_close(s), 0);
        if (!tu_bg_wait(&bg, WAIT_MS))
            fail_msg("still connecting after close()");
        assert_true(blocked);
        assert_int_equal(bg.result, -1);
        assert_oserror(UERRNO_EBADF);
        usocket_release(s);
        close(listener);
    }
}

/* A non-blocking delayed connect polls writable and carries bytes both ways. */
static void test_fault_delay_non_blocking_connect_carries_bytes(void **state)
{
    (void)state;
    int port, listener = tu_listener(&port);
    faults("delay *:%d delay=50ms", port);
    usocket *s = tu_tcp();
    set_mode(s, NON_BLOCKING);
    usocket_addr a = tu_loopback(port);
    assert_int_equal(usocket_connect(s, &a), -1);
    assert_oserror(UERRNO_EINPROGRESS);
    assert_int_equal(poll_once(s, USELECT_POLLOUT, WAIT_MS), USELECT_POLLOUT);
    int peer = tu_accept(listener, WAIT_MS);
    assert_true(peer >= 0);
    assert_int_equal(usocket_send(s, "up", 2), 2);
    char b[4];
    assert_int_equal(tu_read_exact(peer, b, 2, WAIT_MS), 2);
    tu_peer_send(peer, "down");
    assert_int_equal(poll_once(s, USELECT_POLLIN, WAIT_MS), USELECT_POLLIN);
    assert_int_equal(usocket_recv(s, b, sizeof b), 4);
    close(peer);
    close(listener);
    usocket_release(s);
}

/* --- the peer sees the device socket ------------------------------------------------------------- */

static int port_of_peer(int fd)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    assert_int_equal(getpeername(fd, (struct sockaddr *)&sin, &len), 0);
    return ntohs(sin.sin_port);
}

/* The peer is connected from the device socket's own port: the port it got at connect, or the
 * one it was bound to before. */
static void test_fault_delay_peer_sees_the_device_sockets_own_port(void **state)
{
    (void)state;
    int peer;
    usocket *s = connected("delay *:%d delay=20ms", &peer);
    assert_int_equal(port_of_peer(peer), tu_usock_port(s));
    close(peer);
    usocket_release(s);

    int port, listener = tu_listener(&port);
    s = tu_tcp();
    usocket_addr any = {"", 0}, to = tu_loopback(port);
    assert_int_equal(usocket_bind(s, &any), 0);
    int bound = tu_usock_port(s);
    assert_int_equal(usocket_connect(s, &to), 0);
    peer = tu_accept(listener, WAIT_MS);
    assert_true(peer >= 0);
    assert_int_equal(port_of_peer(peer), bound);
    assert_int_equal(tu_usock_port(s), bound);
    close(peer);
    close(listener);
    usocket_release(s);
}

/* A server of this process accepts the client's own port (nth=1: only the client's connection is
 * delayed, not the accepted one). */
static void test_fault_delay_in_process_server_accepts_the_clients_port(void **state)
{
    (void)state;
    int port;
    usocket *l = tu_usock_listener(2, &port);
    faults("delay *:%d delay=20ms nth=1", port);
    usocket *c = tu_tcp();
    usocket_addr to = tu_loopback(port), from;
    assert_int_equal(usocket_connect(c, &to), 0);
    usocket *a = usocket_accept(l, &from);
    assert_non_null(a);
    assert_string_equal(from.ip, "127.0.0.1");
    assert_int_equal(from.port, tu_usock_port(c));
    usocket_release(a);
    usocket_release(c);
    usocket_release(l);
}

/* The kernel's timer on the TCP connection from local to remote (/proc/net/tcp's `tr`): 2 is the
 * keep-alive timer, -1 no such connection. */
static int tcp_timer(int local, int remote)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    assert_non_null(f);
    char line[256];
    int timer = -1;
    while (timer < 0 && fgets(line, sizeof line, f)) {
        unsigned lport, rport, tr;
        if (sscanf(line, " %*d: %*x:%x %*x:%x %*x %*x:%*x %x:", &lport, &rport, &tr) == 3 &&
            (int)lport == local && (int)rport == remote)
            timer = (int)tr;
    }
    fclose(f);
    return timer;
}

/* Keep-alive set before connect is on the real connection, the one whose peer would notice. */
static void test_fault_delay_keepalive_set_before_connect_reaches_the_peer(void **state)
{
    (void)state;
    int port, listener = tu_listener(&port);
    faults("delay *:%d delay=20ms", port);
    usocket *s = tu_tcp();
    assert_int_equal(usocket_setsockopt_int(s, USOCKET_SOL_SOCKET, USOCKET_SO_KEEPALIVE, 1), 0);
    usocket_addr to = tu_loopback(port);
    assert_int_equal(usocket_connect(s, &to), 0);
    int peer = tu_accept(listener, WAIT_MS);
    assert_true(peer >= 0);
    assert_int_equal(tcp_timer(tu_usock_port(s), port), 2);
    close(peer);
    close(listener);
    usocket_release(s);
}

/* Many delayed connects at once (they share the stall): each is writable only after the round
 * trip, and the peer accepts each from its own device port. */
static void test_fault_delay_many_connects_at_once_each_take_the_round_trip(void **state)
{
    (void)state;
    enum { N = 8 }; /* of the board's 10 sockets */
    int port, listener = tu_listener(&port);
    faults(SLOW_LINK, port);
    usocket *s[N];
    usocket_addr a = tu_loopback(port);
    uint64_t t0 = tu_now_ms();
    for (int i = 0; i < N; i++) {
        s[i] = tu_tcp();
        set_mode(s[i], NON_BLOCKING);
        assert_int_equal(usocket_connect(s[i], &a), -1);
        assert_oserror(UERRNO_EINPROGRESS);
        assert_int_equal(poll_once(s[i], USELECT_POLLOUT, 0), 0);
    }
    bool seen[N] = {false};
    for (int i = 0; i < N; i++) {
        int peer = tu_accept(listener, WAIT_MS);
        assert_true(peer >= 0);
        assert_true(tu_now_ms() - t0 >= OUT_MS);
        int from = port_of_peer(peer), k = 0;
        while (k < N && tu_usock_port(s[k]) != from)
            k++;
        assert_true(k < N && !seen[k]);
        seen[k] = true;
        close(peer);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(poll_once(s[i], USELECT_POLLOUT, WAIT_MS), USELECT_POLLOUT);
        assert_true(tu_now_ms() - t0 >= ROUND_TRIP_MS);
        usocket_release(s[i]);
    }
    close(listener);
}

/* Jitter reaches the handshake too: with no latency, each connect's SYN and answer take a jitter
 * draw each. The seed (default 1) fixes the draws, so the lower bound is not luck: of four
 * connects with up to 200 ms each way, the slowest takes 30 ms at least (with seed 1: far more). */
static void test_fault_delay_jitter_reaches_the_handshake(void **state)
{
    (void)state;
    int port, listener = tu_listener(&port);
    faults("delay *:%d delay=0ms jitter=200ms", port);
    usocket_addr a = tu_loopback(port);
    uint64_t slowest = 0;
    for (int i = 0; i < 4; i++) {
        usocket *s = tu_tcp();
        uint64_t t0 = tu_now_ms();
        assert_int_equal(usocket_connect(s, &a), 0);
        uint64_t took = tu_now_ms() - t0;
        slowest = took > slowest ? took : slowest;
        int peer = tu_accept(listener, WAIT_MS);
        assert_true(peer >= 0);
        close(peer);
        usocket_release(s);
    }
    assert_true(slowest >= 30);
    close(listener);
}

/* --- with the other effects ------------------------------------------------------------------------- */

/* A reset of a delayed connection is the board's at once; the peer hears the RST after the
 * latency. */
static void test_fault_delay_with_reset_raises_104(void **state)
{
    (void)state;
    int peer;
    usocket *s = connected("delay *:%d delay=100ms; reset after=0 dir=recv", &peer);
    char b[4];
    assert_int_equal(usocket_recv(s, b, sizeof b), -1);
    assert_oserror(UERRNO_ECONNRESET);
    assert_int_equal(poll_once(s, IN_OUT_HUP, 0), IN_OUT_HUP);
    assert_true(tu_readable(peer, WAIT_MS));
    assert_int_equal(recv(peer, b, sizeof b, 0), -1);
    assert_int_equal(errno, ECONNRESET);
    close(peer);
    usocket_release(s);
}

/* A FIN cut of a delayed connection: the bytes up to the cut come late, then b''. */
static void test_fault_delay_with_fin_reads_the_bytes_late_then_eof(void **state)
{
    (void)state;
    int peer;
    usocket *s = connected("delay *:%d delay=200ms dir=recv; fin after=3", &peer);
    uint64_t t0 = tu_now_ms();
    tu_peer_send(peer, "hello");
    char b[8];
    assert_int_equal(usocket_recv(s, b, sizeof b), 3);
    assert_true(tu_now_ms() - t0 >= LATENCY_MS);
    assert_memory_equal(b, "hel", 3);
    assert_int_equal(usocket_recv(s, b, sizeof b), 0);
    close(peer);
    usocket_release(s);
}

/* The Wi-Fi drop aborts a delayed connection like any other (113). */
static void test_fault_delay_with_linkdown_aborts_113(void **state)
{
    (void)state;
    int peer;
    usocket *s = connected("delay *:%d delay=100ms; linkdown at=300ms for=10s", &peer);
    char b[4];
    assert_int_equal(usocket_recv(s, b, sizeof b), -1); /* blocked until the drop */
    assert_oserror(UERRNO_ECONNABORTED);
    assert_int_equal(poll_once(s, IN_OUT_HUP, 0), IN_OUT_HUP);
    close(peer);
    usocket_release(s);
}

/* A TLS handshake over a slow link completes, and its records arrive. */
static void test_fault_delay_tls_handshake_completes(void **state)
{
    (void)state;
    assert_int_equal(upy_config_faults("delay delay=50ms jitter=20ms rate=20000"), 0);
    tu_tls_script sc = tu_tls_pong_server();
    tu_tls_pair p;
    uint64_t t0 = tu_now_ms();
    tu_tls_peer *peer = tu_tls_pair_connected(&p, &sc, NULL);
    assert_true(tu_now_ms() - t0 >= 100); /* at least one round trip of the handshake */
    char b[8];
    assert_int_equal(usocket_send(p.ssl, "ping", 4), 4);
    assert_int_equal(usocket_recv(p.ssl, b, sizeof b), 4);
    assert_memory_equal(b, "pong", 4);
    tu_tls_report r;
    tu_tls_pair_release(&p);
    assert_true(tu_tls_peer_join(peer, &r, 10000));
    assert_true(r.handshake_ok);
}

static int clear(void **state)
{
    (void)state;
    return upy_config_faults("");
}

#define T(fn) cmocka_unit_test_teardown(fn, clear)

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        T(test_fault_delay_recv_bytes_are_unseen_by_recv_and_poll_until_due),
        T(test_fault_delay_recv_blocking_waits_and_timed_times_out),
        T(test_fault_delay_send_reaches_the_peer_after_the_latency_in_every_mode),
        T(test_fault_delay_jitter_keeps_the_order),
        T(test_fault_delay_on_an_accepted_connection),
        T(test_fault_delay_rate_caps_the_bandwidth_without_spinning),
        T(test_fault_delay_full_capped_link_would_block_and_times_out),
        T(test_fault_delay_peer_fin_arrives_after_the_latency),
        T(test_fault_delay_peer_reset_arrives_after_the_latency_as_104),
        T(test_fault_delay_device_close_reaches_the_peer_late),
        T(test_fault_delay_blocking_connect_takes_the_round_trip),
        T(test_fault_delay_non_blocking_connect_polls_writable_after_the_round_trip),
        T(test_fault_delay_timed_connect_shorter_than_the_round_trip_times_out),
        T(test_fault_delay_refused_connect_is_the_boards),
        T(test_fault_delay_close_from_another_thread_ends_the_connect_with_9),
        T(test_fault_delay_non_blocking_connect_carries_bytes),
        T(test_fault_delay_peer_sees_the_device_sockets_own_port),
        T(test_fault_delay_in_process_server_accepts_the_clients_port),
        T(test_fault_delay_keepalive_set_before_connect_reaches_the_peer),
        T(test_fault_delay_many_connects_at_once_each_take_the_round_trip),
        T(test_fault_delay_jitter_reaches_the_handshake),
        T(test_fault_delay_with_reset_raises_104),
        T(test_fault_delay_with_fin_reads_the_bytes_late_then_eof),
        T(test_fault_delay_with_linkdown_aborts_113),
        T(test_fault_delay_tls_handshake_completes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
