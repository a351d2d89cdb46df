/* Fault effects through the public API: each rule gives exactly the board's result on blocking,
 * timed and non-blocking sockets and through poll (docs/faults.md has the table and sources). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
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
#define ALL_FLAGS (IN_OUT_HUP | USELECT_POLLERR) /* tutorial 2's mask: POLLERR is never reported */

enum mode { BLOCKING, TIMED, NON_BLOCKING };
static const enum mode modes[] = {BLOCKING, TIMED, NON_BLOCKING};

static void set_mode(usocket *s, enum mode m)
{
    if (m == TIMED)
        assert_int_equal(usocket_settimeout(s, 2.0), 0);
    else
        assert_int_equal(usocket_setblocking(s, m == BLOCKING), 0);
}

static void faults(const char *rules)
{
    if (upy_config_faults(rules) < 0)
        fail_msg("rules '%s' rejected: %s", rules, tu_exc_text());
}

/* One poll of s for mask, at most timeout_ms: its revents, 0 when nothing came. */
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

/* A connected socket (through the library) and its raw kernel peer, with the rules set after it
 * connected, so that only its transfers meet them. */
static usocket *connected(const char *rules, enum mode m, int *peer)
{
    usocket *s = tu_usock_connected(peer);
    faults(rules);
    set_mode(s, m);
    return s;
}

/* Waits (bounded) until the kernel has the peer's bytes, so a non-blocking recv finds them. */
static void arrived(usocket *s, int n)
{
    assert_true(tu_usock_queued(s, n, 5000));
}

/* --- connect ---------------------------------------------------------------------------------- */

static void test_fault_refuse_blocking_connect_raises_104(void **state)
{
    (void)state;
    int port;
    usocket *l = tu_usock_listener(2, &port);
    faults("refuse");
    usocket *s = tu_tcp();
    usocket_addr to = tu_loopback(port);
    assert_int_equal(usocket_connect(s, &to), -1);
    assert_oserror(UERRNO_ECONNRESET); /* lwIP's ERR_RST for a refusal */
    /* err_tcp raised the error, readable and writable events: 21 for the tutorial's mask, sticky. */
    assert_int_equal(poll_once(s, ALL_FLAGS, 0), 21);
    assert_int_equal(poll_once(s, ALL_FLAGS, 0), 21);
    faults("");
    usocket *ok = tu_tcp();
    assert_int_equal(usocket_connect(ok, &to), 0); /* the listener was always there */
    usocket_release(ok);
    usocket_release(s);
    usocket_release(l);
}

static void test_fault_refuse_non_blocking_connect_polls_in_out_hup_sticky(void **state)
{
    (void)state;
    int port;
    usocket *l = tu_usock_listener(2, &port);
    faults("refuse");
    usocket *s = tu_tcp();
    set_mode(s, NON_BLOCKING);
    usocket_addr to = tu_loopback(port);
    assert_int_equal(usocket_connect(s, &to), -1);
    assert_oserror(UERRNO_EINPROGRESS);
    assert_int_equal(poll_once(s, ALL_FLAGS, 5000), 21);
    assert_int_equal(poll_once(s, ALL_FLAGS, 0), 21); /* sticky */
    char b[4];
    assert_int_equal(usocket_recv(s, b, sizeof b), -1);
    assert_oserror(UERRNO_ECONNRESET);
    usocket_release(s);
    usocket_release(l);
}

/* The timed path counts a refusal as connected; its error waits for the next call. */
static void test_fault_refuse_timed_connect_succeeds_then_recv_raises_104(void **state)
{
    (void)state;
    int port;
    usocket *l = tu_usock_listener(2, &port);
    faults("refuse");
    usocket *s = tu_tcp();
    set_mode(s, TIMED);
    usocket_addr to = tu_loopback(port);
    assert_int_equal(usocket_connect(s, &to), 0);
    assert_int_equal(poll_once(s, ALL_FLAGS, 0), 21); /* the refusal is there before any call */
    char b[4];
    assert_int_equal(usocket_recv(s, b, sizeof b), -1);
    assert_oserror(UERRNO_ECONNRESET);
    assert_int_equal(poll_once(s, ALL_FLAGS, 0), 21);
    usocket_release(s);
    usocket_release(l);
}

static void test_fault_hang_timed_connect_times_out_and_closes(void **state)
{
    (void)state;
    faults("hang *:1883");
    usocket *s = tu_tcp();
    assert_int_equal(usocket_settimeout(s, 0.2), 0);
    usocket_addr to = tu_loopback(1883);
    uint64_t t0 = tu_now_ms();
    assert_int_equal(usocket_connect(s, &to), -1);
    assert_string_equal(tu_exc_text(), "TimeoutError: timed out");
    assert_true(tu_now_ms() - t0 >= 150);
    assert_int_equal(usocket_fileno(s), -1); /* the timed path closed it */
    char b[4];
    assert_int_equal(usocket_recv(s, b, sizeof b), -1); /* later use: the closed socket's EBADF */
    assert_oserror(UERRNO_EBADF);
    assert_int_equal(usocket_send(s, "x", 1), -1);
    assert_oserror(UERRNO_EBADF);
    usocket_release(s);
}

static void test_fault_hang_non_blocking_connect_never_polls_ready(void **state)
{
    (void)state;
    faults("hang *:1883");
    usocket *s = tu_tcp();
    set_mode(s, NON_BLOCKING);
    usocket_addr to = tu_loopback(1883);
    assert_int_equal(usocket_connect(s, &to), -1);
    assert_oserror(UERRNO_EINPROGRESS);
    assert_int_equal(poll_once(s, USELECT_POLLIN | USELECT_POLLOUT | USELECT_POLLHUP, 300), 0);
    usocket_release(s);
}

/* The blocking path waits out the SYN retries (one, in the probe's namespace) and raises lwIP's
 * ERR_ABRT; the socket stays open with that error fatal (err_tcp), and the real listener never
 * saw a SYN. */
static void test_fault_hang_blocking_connect_raises_113_after_the_syn_retries(void **state)
{
    (void)state;
    assert_string_equal(tu_netns_probe("fault_hang"), "connect: OSError: [Errno 113] ECONNABORTED\n"
                                                      "seconds: 3\n"
                                                      "open: 1\n"
                                                      "send: OSError: [Errno 113] ECONNABORTED\n"
                                                      "recv: OSError: [Errno 113] ECONNABORTED\n"
                                                      "poll: 21\n"
                                                      "connect again: OSError: [Errno 128] ENOTCONN\n"
                                                      "accept: OSError: [Errno 11] EAGAIN\n"
                                                      "fault_hang: ok\n");
}

/* --- reset and FIN ------------------------------------------------------------------------------ */

static void test_fault_reset_after_n_bytes_recv_raises_104_sticky_in_every_mode(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        int peer;
        usocket *s = connected("reset after=3", modes[i], &peer);
        tu_peer_send(peer, "hello");
        arrived(s, 5);
        char b[16];
        assert_int_equal(usocket_recv(s, b, sizeof b), 3);
        assert_memory_equal(b, "hel", 3);
        assert_int_equal(poll_once(s, IN_OUT_HUP, 0), IN_OUT_HUP);
        for (int again = 0; again < 2; again++) {
            assert_int_equal(usocket_recv(s, b, sizeof b), -1);
            assert_oserror(UERRNO_ECONNRESET);
        }
        assert_int_equal(usocket_send(s, "x", 1), -1);
        assert_oserror(UERRNO_ECONNRESET);
        assert_int_equal(poll_once(s, IN_OUT_HUP, 0), IN_OUT_HUP); /* HUP sticky */
        assert_int_equal(recv(peer, b, sizeof b, 0), -1); /* the peer got the RST */
        assert_int_equal(errno, ECONNRESET);
        close(peer);
        usocket_release(s);
    }
}

/* The send that crosses N: timed and non-blocking return the N bytes that went; a blocking one
 * raises 104 (lwIP's blocking write is ended by the RST with its error, and lwip_send returns -1,
 * not the count). Then send and recv raise 104, poll reports 21 for the tutorial's mask, sticky,
 * and the peer gets the N bytes, then the RST. */
static void test_fault_reset_after_n_bytes_sent_cuts_the_send_in_every_mode(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        int peer;
        usocket *s = connected("reset after=4 dir=send", modes[i], &peer);
        if (modes[i] == BLOCKING) {
            assert_int_equal(usocket_send(s, "0123456789", 10), -1);
            assert_oserror(UERRNO_ECONNRESET);
        } else {
            assert_int_equal(usocket_send(s, "0123456789", 10), 4);
        }
        assert_int_equal(usocket_send(s, "x", 1), -1);
        assert_oserror(UERRNO_ECONNRESET);
        char b[16];
        assert_int_equal(usocket_recv(s, b, sizeof b), -1);
        assert_oserror(UERRNO_ECONNRESET);
        assert_int_equal(poll_once(s, ALL_FLAGS, 0), 21);
        assert_int_equal(poll_once(s, ALL_FLAGS, 0), 21);
        assert_int_equal(tu_read_exact(peer, b, 4, 2000), 4);
        assert_memory_equal(b, "0123", 4);
        assert_true(tu_readable(peer, 2000));
        assert_int_equal(recv(peer, b, sizeof b, 0), -1); /* the kernel's RST reached the peer */
        assert_int_equal(errno, ECONNRESET);
        close(peer);
        usocket_release(s);
    }
}

static void test_fault_fin_after_n_bytes_recv_reads_eof_in_every_mode(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        int peer;
        usocket *s = connected("fin after=2", modes[i], &peer);
        tu_peer_send(peer, "abcdef");
        arrived(s, 6);
        char b[16];
        assert_int_equal(usocket_recv(s, b, sizeof b), 2);
        assert_int_equal(poll_once(s, USELECT_POLLIN, 0), USELECT_POLLIN);
        assert_int_equal(usocket_recv(s, b, sizeof b), 0);
        assert_int_equal(usocket_recv(s, b, sizeof b), 0);
        close(peer);
        usocket_release(s);
    }
}

/* --- short transfers, EAGAIN storms --------------------------------------------------------- */

static void test_fault_short_caps_each_send_and_recv(void **state)
{
    (void)state;
    int peer;
    usocket *s = connected("short max=3", NON_BLOCKING, &peer);
    assert_int_equal(usocket_send(s, "0123456789", 10), 3);
    tu_peer_send(peer, "abcdef");
    arrived(s, 6);
    char b[16];
    assert_int_equal(usocket_recv(s, b, sizeof b), 3);
    assert_int_equal(usocket_recv(s, b, sizeof b), 3);
    set_mode(s, BLOCKING);
    assert_int_equal(usocket_send(s, "0123456789", 10), 10); /* a blocking send still sends it all */
    close(peer);
    usocket_release(s);
}

/* Blocking: recv returns at most K (the rest stays queued, and poll still reports it); timed:
 * send returns what one lwIP write took, K. */
static void test_fault_short_blocking_recv_and_timed_send(void **state)
{
    (void)state;
    int peer;
    usocket *s = connected("short max=3", BLOCKING, &peer);
    tu_peer_send(peer, "abcdef");
    arrived(s, 6);
    char b[16];
    assert_int_equal(usocket_recv(s, b, sizeof b), 3);
    assert_memory_equal(b, "abc", 3);
    assert_int_equal(poll_once(s, USELECT_POLLIN | USELECT_POLLOUT, 0), USELECT_POLLIN | USELECT_POLLOUT);
    assert_int_equal(usocket_recv(s, b, sizeof b), 3);
    assert_memory_equal(b, "def", 3);
    assert_int_equal(poll_once(s, USELECT_POLLIN | USELECT_POLLOUT, 0), USELECT_POLLOUT);
    set_mode(s, TIMED);
    assert_int_equal(usocket_send(s, "0123456789", 10), 3);
    assert_int_equal(tu_read_exact(peer, b, 3, 2000), 3);
    assert_memory_equal(b, "012", 3);
    close(peer);
    usocket_release(s);
}

/* The storm is what lwIP says when nothing can move: recv b'' (the board's non-blocking recv never
 * raises 11), send OSError(11); poll still reports the truth. */
static void test_fault_eagain_storm_on_non_blocking_calls_only(void **state)
{
    (void)state;
    int peer;
    usocket *s = connected("eagain count=2", NON_BLOCKING, &peer);
    tu_peer_send(peer, "abc");
    arrived(s, 3);
    char b[16];
    assert_int_equal(usocket_recv(s, b, sizeof b), 0);
    assert_int_equal(usocket_send(s, "x", 1), -1);
    assert_oserror(UERRNO_EAGAIN);
    assert_int_equal(poll_once(s, USELECT_POLLIN, 0), USELECT_POLLIN); /* the data is there all along */
    assert_int_equal(usocket_send(s, "x", 1), 1); /* the call after a storm goes through */
    assert_int_equal(usocket_send(s, "x", 1), -1); /* the rule fires again: another storm */
    assert_oserror(UERRNO_EAGAIN);
    assert_int_equal(tu_read_exact(peer, b, 1, 2000), 1);
    faults("eagain count=2");
    set_mode(s, BLOCKING);
    assert_int_equal(usocket_recv(s, b, sizeof b), 3);
    set_mode(s, TIMED);
    assert_int_equal(usocket_send(s, "x", 1), 1);
    close(peer);
    usocket_release(s);
}

/* A storm of sends leaves receives alone: the data waiting is read in the middle of it. */
static void test_fault_eagain_storm_keeps_to_its_direction(void **state)
{
    (void)state;
    int peer;
    usocket *s = connected("eagain count=2 dir=send nth=1", NON_BLOCKING, &peer);
    tu_peer_send(peer, "abc");
    arrived(s, 3);
    assert_int_equal(usocket_send(s, "x", 1), -1);
    assert_oserror(UERRNO_EAGAIN);
    char b[16];
    assert_int_equal(usocket_recv(s, b, sizeof b), 3);
    assert_int_equal(usocket_send(s, "x", 1), -1);
    assert_oserror(UERRNO_EAGAIN);
    assert_int_equal(usocket_send(s, "x", 1), 1); /* the storm has passed */
    close(peer);
    usocket_release(s);
}

/* A rule with no nth, every or p fires at every call it can: storms of K follow each other with
 * one call through between them, so a program that retries gets on (the tutorials under
 * `eagain count=3` finish). */
static void test_fault_eagain_storms_let_a_call_through_between_them(void **state)
{
    (void)state;
    int peer;
    usocket *s = connected("eagain count=3 dir=send", NON_BLOCKING, &peer);
    char got[9] = {0};
    for (int i = 0; i < 8; i++) {
        ssize_t n = usocket_send(s, "x", 1);
        got[i] = n == 1 ? '1' : upy_exc_is_errno(UERRNO_EAGAIN) ? 'w' : '?';
    }
    assert_string_equal(got, "www1www1");
    char b[4];
    assert_int_equal(tu_read_exact(peer, b, 2, 2000), 2);
    close(peer);
    usocket_release(s);
}

/* A non-blocking accept meets a storm as the board's finds its accept mailbox empty:
 * OSError(11), the connection still queued; the call after the storm takes it. A blocking accept
 * is untouched. */
static void test_fault_eagain_storm_on_a_non_blocking_accept(void **state)
{
    (void)state;
    int port;
    usocket *l = tu_usock_listener(2, &port);
    int client = tu_connect(port);
    faults("eagain count=2 nth=1");
    set_mode(l, NON_BLOCKING);
    assert_true(tu_usock_ready(l, POLLIN, 5000));
    usocket_addr from;
    for (int i = 0; i < 2; i++) {
        assert_null(usocket_accept(l, &from));
        assert_oserror(UERRNO_EAGAIN);
    }
    assert_int_equal(poll_once(l, USELECT_POLLIN, 0), USELECT_POLLIN); /* still waiting */
    usocket *a = usocket_accept(l, &from);
    assert_non_null(a);
    usocket_release(a);
    close(client);
    faults("eagain count=2");
    client = tu_connect(port);
    set_mode(l, BLOCKING);
    a = usocket_accept(l, &from);
    assert_non_null(a);
    usocket_release(a);
    close(client);
    usocket_release(l);
}

/* --- datagrams -------------------------------------------------------------------------------- */

/* One datagram's text and source port, received on u. */
static void assert_datagram(usocket *u, const char *text, int from_port)
{
    char b[16];
    usocket_addr from;
    assert_int_equal(usocket_recvfrom(u, b, sizeof b, &from), (ssize_t)strlen(text));
    assert_memory_equal(b, text, strlen(text));
    assert_int_equal(from.port, from_port);
}

/* A non-blocking UDP socket meets a storm as the board's calls meet nothing to move: recv b''
 * and recvfrom OSError(11) on an empty queue, sendto OSError(12) (lwIP's UDP send never waits;
 * a full Wi-Fi transmit queue is ERR_MEM). Poll reports the truth; blocking and timed calls are
 * untouched. */
static void test_fault_eagain_on_datagrams_recv_empty_recvfrom_11_sendto_12(void **state)
{
    (void)state;
    int port, peer_port, peer = tu_udp_peer(&peer_port);
    usocket *u = tu_usock_udp(&port);
    usocket_addr to = tu_loopback(peer_port);
    faults("eagain count=3");
    set_mode(u, NON_BLOCKING);
    tu_udp_sendto(peer, "abc", 3, port);
    assert_true(tu_usock_ready(u, POLLIN, 5000));
    char b[16];
    assert_int_equal(usocket_recv(u, b, sizeof b), 0);
    assert_int_equal(usocket_recvfrom(u, b, sizeof b, NULL), -1);
    assert_oserror(UERRNO_EAGAIN);
    assert_int_equal(usocket_sendto(u, "x", 1, &to), -1);
    assert_oserror(UERRNO_ENOMEM);
    assert_int_equal(poll_once(u, USELECT_POLLIN | USELECT_POLLOUT, 0), USELECT_POLLIN | USELECT_POLLOUT);
    set_mode(u, BLOCKING);
    assert_datagram(u, "abc", peer_port); /* the storm took nothing */
    set_mode(u, TIMED);
    assert_int_equal(usocket_sendto(u, "x", 1, &to), 1);
    assert_int_equal(tu_read_exact(peer, b, 1, 2000), 1);
    usocket_release(u);
    close(peer);
}

/* lwIP copies what fits of a datagram and drops the rest with it: the next receive gets the next
 * datagram, and poll sees nothing left. A send is never short: a datagram goes whole. */
static void test_fault_short_truncates_each_datagram_in_every_mode(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        int port, peer_port, peer = tu_udp_peer(&peer_port);
        usocket *u = tu_usock_udp(&port);
        faults("short max=3");
        set_mode(u, modes[i]);
        tu_udp_sendto(peer, "abcdef", 6, port);
        tu_udp_sendto(peer, "ghijkl", 6, port);
        assert_true(tu_usock_ready(u, POLLIN, 5000));
        assert_datagram(u, "abc", peer_port);
        char b[16];
        assert_int_equal(usocket_recv(u, b, sizeof b), 3);
        assert_memory_equal(b, "ghi", 3);
        assert_int_equal(poll_once(u, USELECT_POLLIN, 0), 0);
        usocket_addr to = tu_loopback(peer_port);
        assert_int_equal(usocket_sendto(u, "0123456789", 10, &to), 10);
        assert_int_equal(recv(peer, b, sizeof b, 0), 10);
        usocket_release(u);
        close(peer);
    }
}

/* An address selects a datagram by its far end, device side: the source of the one a receive
 * would take, the destination a send names. */
static void test_fault_datagram_rules_select_the_source_and_the_destination(void **state)
{
    (void)state;
    int port, a_port, b_port, a = tu_udp_peer(&a_port), b = tu_udp_peer(&b_port);
    usocket *u = tu_usock_udp(&port);
    set_mode(u, NON_BLOCKING);
    char rules[64];
    snprintf(rules, sizeof rules, "eagain *:%d", a_port);
    faults(rules);
    tu_udp_sendto(b, "from b", 6, port);
    tu_udp_sendto(a, "from a", 6, port);
    assert_true(tu_usock_ready(u, POLLIN, 5000));
    assert_datagram(u, "from b", b_port);
    char buf[16];
    assert_int_equal(usocket_recvfrom(u, buf, sizeof buf, NULL), -1); /* a's is next */
    assert_oserror(UERRNO_EAGAIN);
    usocket_addr to_a = tu_loopback(a_port), to_b = tu_loopback(b_port);
    assert_int_equal(usocket_sendto(u, "x", 1, &to_b), 1);
    assert_int_equal(usocket_sendto(u, "x", 1, &to_a), -1);
    assert_oserror(UERRNO_ENOMEM);
    faults("");
    assert_datagram(u, "from a", a_port);
    usocket_release(u);
    close(a);
    close(b);
}

/* --- DNS --------------------------------------------------------------------------------------- */

static void test_fault_dnsfail_raises_202_and_dnsslow_waits(void **state)
{
    (void)state;
    usocket_addrinfo ai;
    assert_int_equal(upy_config_remap("broker.local=127.0.0.1"), 0);
    faults("dnsfail host=broker.local; dnsslow delay=150ms");
    assert_int_equal(usocket_getaddrinfo("broker.local", 1883, &ai), -1);
    assert_oserror(UERRNO_EAI_FAIL);
    assert_int_equal(usocket_getaddrinfo("127.0.0.1", 1883, &ai), 1); /* a number asks no DNS */
    uint64_t t0 = tu_now_ms();
    assert_int_equal(usocket_getaddrinfo("localhost", 1883, &ai), 1);
    assert_true(tu_now_ms() - t0 >= 140);
    faults("");
    assert_int_equal(usocket_getaddrinfo("broker.local", 1883, &ai), 1);
    assert_string_equal(ai.sockaddr.ip, "127.0.0.1");
    assert_int_equal(upy_config_remap(""), 0);
}

/* --- link down ------------------------------------------------------------------------------------ */

/* A blocking connect of a new socket to the port: its result. */
static int connect_to(int port)
{
    usocket *c = tu_tcp();
    usocket_addr to = tu_loopback(port);
    int rc = usocket_connect(c, &to);
    usocket_release(c);
    return rc;
}

/* The station drops 1.5 s after the rules are set (time enough to connect under valgrind): each
 * open connection, whatever its mode, is aborted (a poll waiting on it wakes with HUP), and a new
 * connect finds no route. */
static void test_fault_linkdown_aborts_connections_113_and_connects_get_118(void **state)
{
    (void)state;
    int port, peers[3];
    usocket *l = tu_usock_listener(2, &port), *s[3];
    faults("linkdown at=1500ms for=1500ms");
    for (int i = 0; i < 3; i++) {
        s[i] = tu_usock_connected(&peers[i]);
        set_mode(s[i], modes[i]);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(poll_once(s[i], USELECT_POLLIN, 10000), USELECT_POLLIN); /* HUP: only when asked */
        assert_int_equal(poll_once(s[i], IN_OUT_HUP, 0), IN_OUT_HUP);
        char b[4];
        assert_int_equal(usocket_recv(s[i], b, sizeof b), -1);
        assert_oserror(UERRNO_ECONNABORTED);
        assert_int_equal(usocket_send(s[i], "x", 1), -1);
        assert_oserror(UERRNO_ECONNABORTED);
        assert_int_equal(poll_once(s[i], IN_OUT_HUP, 0), IN_OUT_HUP);
        close(peers[i]);
        usocket_release(s[i]);
    }
    assert_int_equal(connect_to(port), -1);
    assert_oserror(UERRNO_EHOSTUNREACH);
    /* After the window, connects work again (bounded: the window ends 3 s after the rules). */
    uint64_t t0 = tu_now_ms();
    int rc = -1;
    while (rc < 0 && tu_now_ms() - t0 < 10000 && (rc = connect_to(port)) < 0) {
        assert_oserror(UERRNO_EHOSTUNREACH);
        poll(NULL, 0, 20); /* the window's own time passing, not a synchronisation */
    }
    assert_int_equal(rc, 0);
    usocket_release(l);
}

/* A thread blocked in recv when the station drops is woken with the board's error. */
static void test_fault_linkdown_wakes_a_blocked_recv_with_113(void **state)
{
    (void)state;
    int peer;
    faults("linkdown at=1s for=1s");
    usocket *s = tu_usock_connected(&peer); /* followed from its connect on */
    char b[4];
    tu_bg bg;
    tu_bg_recv(&bg, s, b, sizeof b);
    assert_true(tu_bg_wait(&bg, 10000));
    assert_int_equal(bg.result, -1);
    assert_oserror(UERRNO_ECONNABORTED);
    assert_int_equal(poll_once(s, IN_OUT_HUP, 0), IN_OUT_HUP);
    close(peer);
    usocket_release(s);
}

/* A connect while the link is down fails at once with 118 in every mode (lwIP's tcp_connect finds
 * no route before any SYN, so a non-blocking one is not 119). That failure raises no event and
 * leaves the netconn as it was (lwip_netconn_do_connect, firmware-notes §16): poll reports
 * nothing, and once the link is back the same socket connects. The timed path closed the socket
 * (its immediate-error case): later calls raise 9. */
static void test_fault_linkdown_connect_in_every_mode_gets_118_and_polls_nothing(void **state)
{
    (void)state;
    int port;
    usocket *l = tu_usock_listener(4, &port);
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        faults("linkdown at=0s for=3600s");
        usocket *s = tu_tcp();
        set_mode(s, modes[i]);
        usocket_addr to = tu_loopback(port);
        assert_int_equal(usocket_connect(s, &to), -1);
        assert_oserror(UERRNO_EHOSTUNREACH);
        assert_int_equal(poll_once(s, ALL_FLAGS, 0), 0);
        assert_int_equal(poll_once(s, ALL_FLAGS, 50), 0);
        faults(""); /* the link is back */
        if (modes[i] == TIMED) {
            assert_int_equal(usocket_fileno(s), -1);
            assert_int_equal(usocket_connect(s, &to), -1);
            assert_oserror(UERRNO_EBADF);
        } else {
            int rc = usocket_connect(s, &to);
            if (modes[i] == NON_BLOCKING) {
                assert_int_equal(rc, -1);
                assert_oserror(UERRNO_EINPROGRESS);
                assert_int_equal(poll_once(s, ALL_FLAGS, 5000), USELECT_POLLOUT);
            } else {
                assert_int_equal(rc, 0);
            }
            usocket_addr from;
            usocket_release(usocket_accept(l, &from));
        }
        usocket_release(s);
    }
    usocket_release(l);
}

/* A connect still waiting for its answer when the station drops is aborted as the open
 * connections are (lwIP's tcp_netif_ip_addr_changed aborts SYN_SENT pcbs too: ERR_ABRT, 113):
 * a blocking connect raises 113; a non-blocking one polls IN|OUT|HUP and its recv raises 113. */
static void test_fault_linkdown_aborts_a_pending_connect_113(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        faults("hang 192.168.0.42:7000; linkdown at=300ms for=3600s");
        usocket *s = tu_tcp();
        set_mode(s, i == 0 ? BLOCKING : NON_BLOCKING);
        usocket_addr to = {"192.168.0.42", 7000};
        assert_int_equal(usocket_connect(s, &to), -1);
        if (i == 0) {
            assert_oserror(UERRNO_ECONNABORTED);
        } else {
            assert_oserror(UERRNO_EINPROGRESS);
            assert_int_equal(poll_once(s, IN_OUT_HUP, 10000), IN_OUT_HUP);
            char b[4];
            assert_int_equal(usocket_recv(s, b, sizeof b), -1);
            assert_oserror(UERRNO_ECONNABORTED);
        }
        faults("");
        usocket_release(s);
    }
}

/* A connection open before the rules were set is followed from its first transfer on: if the
 * link went down in between (or is down), it went down with it, as every connection does. */
static void test_fault_linkdown_ends_connections_open_before_the_rules(void **state)
{
    (void)state;
    const char *const windows[] = {"linkdown at=0s for=3600s", "linkdown at=0s for=1ms"};
    for (int i = 0; i < 2; i++) {
        int peer;
        usocket *s = tu_usock_connected(&peer);
        set_mode(s, TIMED);
        faults(windows[i]);
        uint64_t t0 = tu_now_ms();
        while (i == 1 && tu_now_ms() - t0 < 20)
            poll(NULL, 0, 5); /* the window's own time passing, not a synchronisation */
        char b[4];
        assert_int_equal(usocket_recv(s, b, sizeof b), -1);
        assert_oserror(UERRNO_ECONNABORTED);
        assert_int_equal(usocket_send(s, "x", 1), -1);
        assert_oserror(UERRNO_ECONNABORTED);
        assert_int_equal(poll_once(s, IN_OUT_HUP, 0), IN_OUT_HUP);
        faults("");
        close(peer);
        usocket_release(s);
    }
}

/* With the station off the LAN no connection can come in; one the kernel still took over
 * loopback is aborted as the open ones were: accept returns it, its calls raise 113. */
static void test_fault_linkdown_aborts_a_connection_accepted_in_the_window(void **state)
{
    (void)state;
    int port;
    usocket *l = tu_usock_listener(2, &port);
    faults("linkdown at=0s for=3600s");
    int peer = tu_connect(port);
    usocket_addr from;
    usocket *a = usocket_accept(l, &from);
    assert_non_null(a);
    char b[4];
    assert_int_equal(usocket_recv(a, b, sizeof b), -1);
    assert_oserror(UERRNO_ECONNABORTED);
    assert_int_equal(poll_once(a, IN_OUT_HUP, 0), IN_OUT_HUP);
    close(peer);
    usocket_release(a);
    usocket_release(l);
}

/* A datagram that reaches the kernel while the link is down is lost, as it never reaches the
 * board; the next one after the window is received. */
static void test_fault_linkdown_loses_datagrams_sent_to_the_device(void **state)
{
    (void)state;
    int port, peer_port, peer = tu_udp_peer(&peer_port);
    usocket *u = tu_usock_udp(&port);
    set_mode(u, NON_BLOCKING);
    faults("linkdown at=0s for=3600s");
    tu_udp_sendto(peer, "lost", 4, port);
    assert_true(tu_usock_ready(u, POLLIN, 5000));
    char b[16];
    assert_int_equal(usocket_recvfrom(u, b, sizeof b, NULL), -1);
    assert_oserror(UERRNO_EAGAIN);
    faults("");
    tu_udp_sendto(peer, "after", 5, port);
    assert_true(tu_usock_ready(u, POLLIN, 5000));
    assert_datagram(u, "after", peer_port);
    usocket_release(u);
    close(peer);
}

static void test_fault_linkdown_fails_udp_sends_with_118(void **state)
{
    (void)state;
    int port, peer = tu_udp_peer(&port);
    faults("linkdown at=0s for=10s");
    usocket *u = tu_udp();
    usocket_addr to = tu_loopback(port);
    assert_int_equal(usocket_sendto(u, "x", 1, &to), -1);
    assert_oserror(UERRNO_EHOSTUNREACH);
    faults("");
    assert_int_equal(usocket_sendto(u, "x", 1, &to), 1);
    usocket_release(u);
    close(peer);
}

/* A link drop under TLS: recv raises what mbedtls_net_recv makes of lwIP's 113 (not a reset:
 * NET_RECV_FAILED, -76), stored as is by the firmware's SSL recv; send raises lwIP's errno itself
 * (FW lwipsocket.c lwipsocket_socket_send, its SSL branch: `*_errno = errno`), 113. */
static void test_fault_linkdown_on_a_tls_socket_recv_76_send_113(void **state)
{
    (void)state;
    tu_tls_script sc = tu_tls_pong_server();
    tu_tls_pair p;
    tu_tls_peer *peer = tu_tls_pair_connected(&p, &sc, NULL);
    faults("linkdown at=0s for=3600s");
    char b[16];
    assert_int_equal(usocket_recv(p.ssl, b, sizeof b), -1);
    assert_oserror(UERRNO_MBEDTLS_ERR_NET_RECV_FAILED);
    assert_int_equal(UERRNO_MBEDTLS_ERR_NET_RECV_FAILED, -76);
    assert_int_equal(usocket_send(p.ssl, "ping", 4), -1);
    assert_oserror(UERRNO_ECONNABORTED);
    faults("");
    tu_tls_pair_release(&p);
    tu_tls_peer_join(peer, NULL, 10000);
}

/* On a TLS socket the same RST is mbedTLS's NET_CONN_RESET. */
static void test_fault_reset_on_a_tls_socket_raises_80(void **state)
{
    (void)state;
    tu_tls_script sc = tu_tls_pong_server();
    tu_tls_pair p;
    tu_tls_peer *peer = tu_tls_pair_connected(&p, &sc, NULL);
    faults("reset dir=recv");
    char b[16];
    assert_int_equal(usocket_send(p.ssl, "ping", 4), 4);
    assert_int_equal(usocket_recv(p.ssl, b, sizeof b), -1);
    assert_oserror(UERRNO_MBEDTLS_ERR_NET_CONN_RESET);
    assert_int_equal(UERRNO_MBEDTLS_ERR_NET_CONN_RESET, -80);
    tu_tls_pair_release(&p);
    tu_tls_peer_join(peer, NULL, 10000);
}

static void test_fault_linkdown_fails_dns_with_202(void **state)
{
    (void)state;
    faults("linkdown at=0s for=10s");
    usocket_addrinfo ai;
    assert_int_equal(usocket_getaddrinfo("localhost", 80, &ai), -1);
    assert_oserror(UERRNO_EAI_FAIL);
}

/* --- exhaustion ------------------------------------------------------------------------------------ */

static void test_fault_exhaust_accept_raises_23_then_serves(void **state)
{
    (void)state;
    int port;
    usocket *l = tu_usock_listener(2, &port);
    int client = tu_connect(port);
    faults("exhaust on=accept nth=1");
    usocket_addr from;
    assert_null(usocket_accept(l, &from));
    assert_oserror(UERRNO_ENFILE);
    usocket *a = usocket_accept(l, &from); /* the connection waited in the queue */
    assert_non_null(a);
    usocket_release(a);
    close(client);
    usocket_release(l);
}

static void test_fault_exhaust_socket_raises_105_at_the_chosen_count(void **state)
{
    (void)state;
    faults("exhaust on=socket nth=2");
    usocket *a = tu_tcp();
    assert_null(usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_STREAM, USOCKET_IPPROTO_TCP));
    assert_oserror(UERRNO_ENOBUFS);
    usocket *b = tu_tcp();
    usocket_release(b);
    usocket_release(a);
}

/* --- TLS ------------------------------------------------------------------------------------------- */

static ssize_t bg_handshake(tu_bg *bg)
{
    return ussl_do_handshake(bg->s);
}

/* A TLS client in mode m against a server on port, its handshake started: a blocking or timed
 * connect (which runs the handshake), or a non-blocking connect (EINPROGRESS) and do_handshake.
 * The handshake's result. */
static int tls_client(tu_tls_pair *p, int port, enum mode m)
{
    p->plain = tu_tcp();
    if (m == NON_BLOCKING)
        set_mode(p->plain, NON_BLOCKING);
    p->ssl = ussl_wrap_socket(p->plain, NULL);
    assert_non_null(p->ssl);
    if (m == TIMED)
        set_mode(p->ssl, TIMED);
    usocket_addr to = tu_loopback(port);
    if (m != NON_BLOCKING)
        return usocket_connect(p->ssl, &to);
    assert_int_equal(usocket_connect(p->ssl, &to), -1);
    assert_oserror(UERRNO_EINPROGRESS);
    assert_true(tu_usock_ready(p->plain, POLLOUT, 5000));
    return ussl_do_handshake(p->ssl);
}

/* After the alert mbedTLS is still in its handshake: the next recv or send runs it again, which
 * reads the server's FIN. recv raises -29312 (MBEDTLS_ERR_SSL_CONN_EOF) and send the errno
 * lwIP's read of the FIN left (ENOTCONN, 128), each time, and do_handshake -29312 too; once the
 * FIN is taken poll reports OUT only (firmware-notes §17). */
static void assert_fin_read_after_alert(usocket *ssl, bool recv_first)
{
    char b[4];
    for (int k = 0; k < 4; k++) {
        if ((k % 2 == 0) == recv_first) {
            assert_int_equal(usocket_recv(ssl, b, sizeof b), -1);
            assert_oserror(UERRNO_MBEDTLS_ERR_SSL_CONN_EOF);
            assert_int_equal(UERRNO_MBEDTLS_ERR_SSL_CONN_EOF, -29312);
        } else {
            assert_int_equal(usocket_send(ssl, "ping", 4), -1);
            assert_oserror(UERRNO_ENOTCONN);
            assert_int_equal(UERRNO_ENOTCONN, 128);
        }
        assert_int_equal(poll_once(ssl, ALL_FLAGS, 0), USELECT_POLLOUT);
    }
    assert_int_equal(ussl_do_handshake(ssl), -1); /* the same read */
    assert_oserror(UERRNO_MBEDTLS_ERR_SSL_CONN_EOF);
}

/* The server answers the ClientHello with a fatal alert (the module puts the alert record where
 * its answer would be, so the TLS library reads a real alert), then closes. The handshake raises
 * mbedTLS's code for a received fatal alert in every mode. The timed path's helper task closes
 * the socket (§5.4): later calls raise 9 and poll reports nothing. On the others the server's
 * FIN is there: poll reports IN|OUT (5 of the tutorial's mask), no HUP (§4.3), until the next
 * recv or send reads it (assert_fin_read_after_alert). The real server saw the ClientHello and then the client leave: its handshake failed. */
static void test_fault_tls_alert_in_every_mode_then_the_fin_is_read(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        tu_tls_script sc = {.cert = tu_cert("server.pem"), .key = tu_cert("server.key"), .end = TU_TLS_FIN};
        int port;
        tu_tls_peer *peer = tu_tls_peer_start(&sc, &port);
        faults("tls-alert");
        tu_tls_pair p;
        assert_int_equal(tls_client(&p, port, modes[i]), -1);
        assert_oserror(UERRNO_MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE);
        assert_int_equal(UERRNO_MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE, -30592);
        if (modes[i] == TIMED) {
            assert_int_equal(usocket_fileno(p.ssl), -1);
            char b[4];
            assert_int_equal(usocket_recv(p.ssl, b, sizeof b), -1);
            assert_oserror(UERRNO_EBADF);
            assert_int_equal(poll_once(p.ssl, ALL_FLAGS, 0), 0);
        } else {
            assert_int_equal(poll_once(p.ssl, ALL_FLAGS, 0), USELECT_POLLIN | USELECT_POLLOUT);
            assert_fin_read_after_alert(p.ssl, modes[i] == BLOCKING);
        }
        tu_tls_pair_release(&p);
        tu_tls_report report;
        assert_true(tu_tls_peer_join(peer, &report, 10000));
        assert_false(report.handshake_ok);
    }
}

/* r6's handshake has no read timeout unless one was set on the SSL socket after its connect: a
 * blocking handshake against a server that never answers is still waiting after 300 ms, until
 * close() ends it (EBADF). */
static void test_fault_tls_stall_blocking_handshake_waits_until_closed(void **state)
{
    (void)state;
    tu_tls_script sc = {.cert = tu_cert("server.pem"), .key = tu_cert("server.key"), .end = TU_TLS_FIN};
    int port;
    tu_tls_peer *peer = tu_tls_peer_start(&sc, &port);
    faults("tls-stall");
    tu_tls_pair p;
    p.plain = tu_tcp();
    set_mode(p.plain, NON_BLOCKING);
    p.ssl = ussl_wrap_socket(p.plain, NULL);
    assert_non_null(p.ssl);
    usocket_addr to = tu_loopback(port);
    assert_int_equal(usocket_connect(p.ssl, &to), -1);
    assert_oserror(UERRNO_EINPROGRESS);
    assert_true(tu_usock_ready(p.plain, POLLOUT, 5000));
    tu_bg bg = {.s = p.ssl};
    tu_bg_start(&bg, bg_handshake);
    bool blocked = tu_bg_blocked(&bg, 5000);
    bool pending = !tu_bg_wait(&bg, 300); /* the bounded check: still no answer after 300 ms */
    assert_int_equal(usocket_close(p.ssl), 0);
    if (!tu_bg_wait(&bg, 5000))
        fail_msg("the handshake still waits after close()");
    assert_true(blocked && pending);
    assert_int_equal(bg.result, -1);
    assert_oserror(UERRNO_EBADF);
    tu_tls_pair_release(&p);
    assert_true(tu_tls_peer_join(peer, NULL, 10000));
}

static void test_fault_tls_fin_without_close_notify_raises_29312(void **state)
{
    (void)state;
    tu_tls_script sc = tu_tls_pong_server();
    tu_tls_pair p;
    tu_tls_peer *peer = tu_tls_pair_connected(&p, &sc, NULL);
    faults("fin after=0");
    char b[16];
    assert_int_equal(usocket_send(p.ssl, "ping", 4), 4);
    assert_int_equal(usocket_recv(p.ssl, b, sizeof b), -1);
    assert_oserror(UERRNO_MBEDTLS_ERR_SSL_CONN_EOF);
    assert_int_equal(UERRNO_MBEDTLS_ERR_SSL_CONN_EOF, -29312);
    tu_tls_pair_release(&p);
    tu_tls_peer_join(peer, NULL, 10000);
}

/* The server never answers the handshake: where a read timeout is set the board counts `timeout`
 * of them and raises SSL_TIMEOUT (the era of the socket tutorial: a non-blocking connect, then
 * do_handshake). */
static void test_fault_tls_stall_raises_ssl_timeout_after_the_read_timeouts(void **state)
{
    (void)state;
    tu_tls_script sc = {.cert = tu_cert("server.pem"), .key = tu_cert("server.key"), .end = TU_TLS_FIN};
    int port;
    tu_tls_peer *peer = tu_tls_peer_start(&sc, &port);
    faults("tls-stall");
    usocket *plain = tu_tcp();
    set_mode(plain, NON_BLOCKING);
    usocket *ss = ussl_wrap_socket(plain, &(ussl_options){.timeout = 3});
    assert_non_null(ss);
    usocket_addr to = tu_loopback(port);
    assert_int_equal(usocket_connect(ss, &to), -1);
    assert_oserror(UERRNO_EINPROGRESS);
    assert_int_equal(usocket_settimeout(ss, 0.05), 0);
    uint64_t t0 = tu_now_ms();
    assert_int_equal(ussl_do_handshake(ss), -1);
    assert_oserror(USSL_SSL_TIMEOUT);
    assert_int_equal(USSL_SSL_TIMEOUT, -26624);
    assert_true(tu_now_ms() - t0 >= 3 * 50);
    usocket_release(ss);
    usocket_release(plain);
    assert_true(tu_tls_peer_join(peer, NULL, 10000));
}

/* --- determinism ----------------------------------------------------------------------------------- */

/* Which of 24 connects were refused, as a string of 0/1. */
static void refusals(const char *rules, char *out)
{
    int port;
    usocket *l = tu_usock_listener(30, &port);
    faults(rules);
    for (int i = 0; i < 24; i++) {
        usocket *s = tu_tcp();
        usocket_addr to = tu_loopback(port);
        out[i] = usocket_connect(s, &to) < 0 ? '1' : '0';
        usocket_release(s);
        usocket_addr from;
        if (out[i] == '0')
            usocket_release(usocket_accept(l, &from));
    }
    out[24] = '\0';
    usocket_release(l);
}

static void test_fault_same_seed_same_failures_at_the_same_calls(void **state)
{
    (void)state;
    char a[25], b[25], c[25];
    refusals("seed=11; refuse p=0.4", a);
    refusals("seed=11; refuse p=0.4", b);
    assert_string_equal(a, b);
    assert_true(strchr(a, '1') && strchr(a, '0'));
    refusals("seed=12; refuse p=0.4", c);
    assert_string_not_equal(a, c);
}

static int clear(void **state)
{
    (void)state;
    upy_config_remap("");
    return upy_config_faults("");
}

#define T(fn) cmocka_unit_test_teardown(fn, clear)

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* the raw OpenSSL peer writes with write(2), and its client may be gone */
    const struct CMUnitTest tests[] = {
        T(test_fault_refuse_blocking_connect_raises_104),
        T(test_fault_refuse_non_blocking_connect_polls_in_out_hup_sticky),
        T(test_fault_refuse_timed_connect_succeeds_then_recv_raises_104),
        T(test_fault_hang_timed_connect_times_out_and_closes),
        T(test_fault_hang_non_blocking_connect_never_polls_ready),
        T(test_fault_hang_blocking_connect_raises_113_after_the_syn_retries),
        T(test_fault_reset_after_n_bytes_recv_raises_104_sticky_in_every_mode),
        T(test_fault_reset_after_n_bytes_sent_cuts_the_send_in_every_mode),
        T(test_fault_fin_after_n_bytes_recv_reads_eof_in_every_mode),
        T(test_fault_short_caps_each_send_and_recv),
        T(test_fault_short_blocking_recv_and_timed_send),
        T(test_fault_eagain_storm_on_non_blocking_calls_only),
        T(test_fault_eagain_storm_keeps_to_its_direction),
        T(test_fault_eagain_storms_let_a_call_through_between_them),
        T(test_fault_eagain_storm_on_a_non_blocking_accept),
        T(test_fault_eagain_on_datagrams_recv_empty_recvfrom_11_sendto_12),
        T(test_fault_short_truncates_each_datagram_in_every_mode),
        T(test_fault_datagram_rules_select_the_source_and_the_destination),
        T(test_fault_dnsfail_raises_202_and_dnsslow_waits),
        T(test_fault_linkdown_aborts_connections_113_and_connects_get_118),
        T(test_fault_linkdown_wakes_a_blocked_recv_with_113),
        T(test_fault_linkdown_fails_dns_with_202),
        T(test_fault_linkdown_fails_udp_sends_with_118),
        T(test_fault_linkdown_aborts_a_pending_connect_113),
        T(test_fault_linkdown_ends_connections_open_before_the_rules),
        T(test_fault_linkdown_on_a_tls_socket_recv_76_send_113),
        T(test_fault_linkdown_aborts_a_connection_accepted_in_the_window),
        T(test_fault_linkdown_loses_datagrams_sent_to_the_device),
        T(test_fault_linkdown_connect_in_every_mode_gets_118_and_polls_nothing),
        T(test_fault_reset_on_a_tls_socket_raises_80),
        T(test_fault_exhaust_accept_raises_23_then_serves),
        T(test_fault_exhaust_socket_raises_105_at_the_chosen_count),
        T(test_fault_tls_alert_in_every_mode_then_the_fin_is_read),
        T(test_fault_tls_stall_blocking_handshake_waits_until_closed),
        T(test_fault_tls_fin_without_close_notify_raises_29312),
        T(test_fault_tls_stall_raises_ssl_timeout_after_the_read_timeouts),
        T(test_fault_same_seed_same_failures_at_the_same_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
