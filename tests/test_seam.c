/* The host seam: every kernel socket operation of the library passes its hook points, each hook
 * sees the socket (id, host- and device-side addresses), and a hook can change an outcome. */
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "host/host.h"
#include "host/tls.h"
#include "testutil.h"
#include "tlspeer.h"
#include "upysock/uerrno.h"
#include "upysock/uselect.h"
#include "upysock/usocket.h"
#include "upysock/ussl.h"
#include "upysock/utime.h"

enum { CONNECT, ACCEPT, SEND, RECV, CLOSE, WAIT, HANDSHAKE, KINDS };
static atomic_int seen[KINDS];
static atomic_long sent_bytes, received_bytes;
static atomic_int handshake_outcome = 1; /* 1: leave it; else the outcome the hook puts instead */
static atomic_int fail_recv_with; /* > 0: the recv hook answers -this instead of the kernel */
static host_sock last_connect, last_accept;

static int on_connect(host_sock *s, host_addr to, int (*next)(host_sock *, host_addr))
{
    atomic_fetch_add(&seen[CONNECT], 1);
    int rc = next(s, to);
    last_connect = *s;
    return rc;
}

static int on_accept(host_sock *l, host_sock *child, bool clear, int (*next)(host_sock *, host_sock *, bool))
{
    atomic_fetch_add(&seen[ACCEPT], 1);
    int rc = next(l, child, clear);
    last_accept = *child;
    return rc;
}

static ssize_t on_send(host_sock *s, const void *buf, size_t len, int flags, host_addr *to, host_io_fn next)
{
    atomic_fetch_add(&seen[SEND], 1);
    ssize_t n = next(s, (void *)buf, len, flags, to);
    if (n > 0)
        atomic_fetch_add(&sent_bytes, n);
    return n;
}

static ssize_t on_recv(host_sock *s, void *buf, size_t len, int flags, host_addr *from, host_io_fn next)
{
    atomic_fetch_add(&seen[RECV], 1);
    int err = atomic_load(&fail_recv_with);
    ssize_t n = err ? -err : next(s, buf, len, flags, from);
    if (n > 0)
        atomic_fetch_add(&received_bytes, n);
    return n;
}

static void on_close(host_sock *s, void (*next)(host_sock *))
{
    atomic_fetch_add(&seen[CLOSE], 1);
    next(s);
}

static int on_wait(const struct host_waiter *w, uint64_t d, int (*next)(const struct host_waiter *, uint64_t))
{
    atomic_fetch_add(&seen[WAIT], 1);
    return next(w, d);
}

static int on_handshake(host_sock *s, int outcome)
{
    (void)s;
    atomic_fetch_add(&seen[HANDSHAKE], 1);
    int instead = atomic_load(&handshake_outcome);
    return instead == 1 ? outcome : instead;
}

static const struct host_hooks counting = {
    .connect = on_connect, .accept = on_accept, .send = on_send, .recv = on_recv,
    .close = on_close, .wait = on_wait, .tls_handshake = on_handshake,
};

static int install(void **state)
{
    (void)state;
    for (int i = 0; i < KINDS; i++)
        atomic_store(&seen[i], 0);
    atomic_store(&fail_recv_with, 0);
    atomic_store(&sent_bytes, 0);
    atomic_store(&received_bytes, 0);
    atomic_store(&handshake_outcome, 1);
    assert_int_equal(upy_config_flash(UPYSOCK_TEST_FLASH), 0);
    host_hooks_install(&counting);
    return 0;
}

static int uninstall(void **state)
{
    (void)state;
    host_hooks_install(NULL);
    return 0;
}

/* A connected pair made through the library on both ends: l listens, c connected, a accepted. */
struct pair {
    usocket *l, *c, *a;
};

static struct pair pair_up(void)
{
    int port;
    struct pair p = {.l = tu_usock_listener(2, &port), .c = tu_tcp()};
    usocket_addr to = tu_loopback(port);
    assert_int_equal(usocket_connect(p.c, &to), 0);
    usocket_addr from;
    p.a = usocket_accept(p.l, &from);
    assert_non_null(p.a);
    return p;
}

static void pair_free(struct pair *p)
{
    usocket_release(p->a);
    usocket_release(p->c);
    usocket_release(p->l);
}

static void test_every_plain_operation_passes_its_hook_point(void **state)
{
    (void)state;
    struct pair p = pair_up();
    assert_int_equal(usocket_send(p.c, "ping", 4), 4);
    char b[8];
    assert_int_equal(usocket_recv(p.a, b, sizeof b), 4);
    uselect_poller *poll = uselect_poll();
    assert_int_equal(uselect_poll_register(poll, p.a, USELECT_POLLIN), 0);
    uselect_event ev[1];
    assert_int_equal(uselect_poll_poll(poll, 0, 0, ev, 1), 0);
    uselect_poll_free(poll);
    assert_int_equal(utime_sleep_ms(1), 0);
    pair_free(&p);
    assert_int_equal(atomic_load(&seen[CONNECT]), 1);
    assert_int_equal(atomic_load(&seen[ACCEPT]), 1);
    assert_int_equal(atomic_load(&seen[SEND]), 1);
    assert_int_equal(atomic_load(&seen[RECV]), 1);
    assert_int_equal(atomic_load(&seen[CLOSE]), 3);
    assert_int_equal(atomic_load(&seen[WAIT]), 2); /* the poll and the sleep */
}

static void test_hooks_see_the_socket_on_both_sides_of_the_virtual_lan(void **state)
{
    (void)state;
    struct pair p = pair_up();
    assert_true(last_connect.id != 0 && last_accept.id != 0 && last_connect.id != last_accept.id);
    assert_int_equal(last_connect.peer.ip, 0x7f000001u);
    assert_int_equal(last_accept.peer.port, tu_usock_port(p.c));
    pair_free(&p);
}

static void test_datagrams_pass_the_send_and_recv_points_with_their_address(void **state)
{
    (void)state;
    usocket *a = tu_udp(), *b = tu_udp();
    usocket_addr any = tu_loopback(0);
    assert_int_equal(usocket_bind(b, &any), 0);
    usocket_addr to = tu_loopback(tu_usock_port(b)), from;
    assert_int_equal(usocket_sendto(a, "dg", 2, &to), 2);
    char buf[8];
    assert_int_equal(usocket_recvfrom(b, buf, sizeof buf, &from), 2);
    assert_int_equal(from.port, tu_usock_port(a));
    usocket_release(a);
    usocket_release(b);
    assert_int_equal(atomic_load(&seen[SEND]), 1);
    assert_int_equal(atomic_load(&seen[RECV]), 1);
}

static void test_a_hook_changes_an_outcome(void **state)
{
    (void)state;
    struct pair p = pair_up();
    atomic_store(&fail_recv_with, UERRNO_ECONNRESET);
    char b[8];
    assert_int_equal(usocket_recv(p.a, b, sizeof b), -1);
    assert_oserror(UERRNO_ECONNRESET);
    atomic_store(&fail_recv_with, 0);
    pair_free(&p);
}

/* A TLS client (*ss over *plain) connected to a raw OpenSSL server on port: connect's result. */
static int tls_client(int port, usocket **plain, usocket **ss)
{
    *plain = tu_tcp();
    *ss = ussl_wrap_socket(*plain, NULL);
    assert_non_null(*ss);
    usocket_addr to = tu_loopback(port);
    return usocket_connect(*ss, &to);
}

static void test_tls_records_pass_the_send_and_recv_points(void **state)
{
    (void)state;
    static const char *const pong[] = {"pong", NULL};
    tu_tls_script sc = {.cert = tu_cert("server.pem"), .key = tu_cert("server.key"), .read_first = true,
                        .replies = pong, .end = TU_TLS_CLOSE_NOTIFY};
    int port;
    tu_tls_peer *peer = tu_tls_peer_start(&sc, &port);
    usocket *plain, *ss;
    assert_int_equal(tls_client(port, &plain, &ss), 0);
    assert_int_equal(atomic_load(&seen[HANDSHAKE]), 1);
    long before_sent = atomic_load(&sent_bytes);
    assert_true(before_sent > 0 && atomic_load(&received_bytes) > 0); /* the handshake's records */
    assert_int_equal(usocket_send(ss, "ping", 4), 4);
    char buf[8];
    assert_int_equal(usocket_recv(ss, buf, sizeof buf), 4);
    /* A record carries more than its plaintext: header, explicit nonce, tag. */
    assert_true(atomic_load(&sent_bytes) - before_sent > 4 + 5);
    assert_true(tu_tls_peer_join(peer, NULL, 10000));
    usocket_release(ss);
    usocket_release(plain);
}

static void test_the_handshake_hook_changes_the_outcome(void **state)
{
    (void)state;
    tu_tls_script sc = {.cert = tu_cert("server.pem"), .key = tu_cert("server.key"), .end = TU_TLS_FIN};
    int port;
    tu_tls_peer *peer = tu_tls_peer_start(&sc, &port);
    atomic_store(&handshake_outcome, TLS_PEER_RESET);
    usocket *plain, *ss;
    assert_int_equal(tls_client(port, &plain, &ss), -1);
    assert_oserror(UERRNO_MBEDTLS_ERR_NET_CONN_RESET); /* what the board says for a reset */
    usocket_release(ss);
    usocket_release(plain);
    assert_true(tu_tls_peer_join(peer, NULL, 10000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_plain_operation_passes_its_hook_point, install, uninstall),
        cmocka_unit_test_setup_teardown(test_hooks_see_the_socket_on_both_sides_of_the_virtual_lan, install, uninstall),
        cmocka_unit_test_setup_teardown(test_datagrams_pass_the_send_and_recv_points_with_their_address, install,
                                        uninstall),
        cmocka_unit_test_setup_teardown(test_a_hook_changes_an_outcome, install, uninstall),
        cmocka_unit_test_setup_teardown(test_tls_records_pass_the_send_and_recv_points, install, uninstall),
        cmocka_unit_test_setup_teardown(test_the_handshake_hook_changes_the_outcome, install, uninstall),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
