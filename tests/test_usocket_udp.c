/* usocket datagrams: sendto/recvfrom, one datagram per call, the 2048 cap, would-block rules
 * (SEMANTICS §3.8, firmware-notes §5). */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"
#include "upysock/uerrno.h"
#include "upysock/usocket.h"

static char big[3000];

static int setup_pattern(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 13 + 1);
    return 0;
}

static void test_recvfrom_reads_one_datagram_and_discards_its_rest(void **state)
{
    (void)state;
    int port, sport, sender = tu_udp_peer(&sport);
    usocket *u = tu_usock_udp(&port);
    tu_udp_sendto(sender, big, sizeof big, port);
    tu_udp_sendto(sender, "second", 6, port);
    char b[100];
    assert_int_equal(usocket_recvfrom(u, b, sizeof b, NULL), 100);
    assert_memory_equal(b, big, 100);
    assert_int_equal(usocket_recvfrom(u, b, sizeof b, NULL), 6);
    assert_memory_equal(b, "second", 6);
    usocket_release(u);
    close(sender);
}

static void test_recvfrom_takes_at_most_2048(void **state)
{
    (void)state;
    int port, sport, sender = tu_udp_peer(&sport);
    usocket *u = tu_usock_udp(&port);
    tu_udp_sendto(sender, big, sizeof big, port);
    tu_udp_sendto(sender, "next", 4, port);
    static char b[4096];
    assert_int_equal(usocket_recvfrom(u, b, sizeof b, NULL), 2048);
    assert_memory_equal(b, big, 2048);
    assert_int_equal(usocket_recvfrom(u, b, sizeof b, NULL), 4); /* the other 952 went */
    usocket_release(u);
    close(sender);
}

static void test_recvfrom_returns_the_source(void **state)
{
    (void)state;
    int port, sport, sender = tu_udp_peer(&sport);
    usocket *u = tu_usock_udp(&port);
    tu_udp_sendto(sender, "hi", 2, port);
    usocket_addr from = {"x", -1};
    char b[8];
    assert_int_equal(usocket_recvfrom(u, b, sizeof b, &from), 2);
    assert_string_equal(from.ip, "127.0.0.1");
    assert_int_equal(from.port, sport);
    usocket_release(u);
    close(sender);
}

static void test_sendto_between_socket_objects(void **state)
{
    (void)state;
    int port_a, port_b;
    usocket *a = tu_usock_udp(&port_a), *b = tu_usock_udp(&port_b);
    usocket_addr to_b = tu_loopback(port_b);
    assert_int_equal(usocket_sendto(a, big, sizeof big, &to_b), (ssize_t)sizeof big);
    usocket_addr from;
    static char got[2048];
    assert_int_equal(usocket_recvfrom(b, got, sizeof got, &from), 2048);
    assert_memory_equal(got, big, 2048);
    assert_string_equal(from.ip, "127.0.0.1");
    assert_int_equal(from.port, port_a);
    usocket_release(a);
    usocket_release(b);
}

static void test_nonblocking_recvfrom_is_eagain_while_recv_is_empty(void **state)
{
    (void)state;
    int port;
    usocket *u = tu_usock_udp(&port);
    assert_int_equal(usocket_setblocking(u, false), 0);
    char b[8];
    assert_int_equal(usocket_recvfrom(u, b, sizeof b, NULL), -1);
    assert_oserror(UERRNO_EAGAIN);
    assert_int_equal(usocket_recv(u, b, sizeof b), 0);
    usocket_release(u);
}

static void test_timed_recvfrom_and_recv_are_timeouterror(void **state)
{
    (void)state;
    int port;
    usocket *u = tu_usock_udp(&port);
    assert_int_equal(usocket_settimeout(u, 0.05), 0);
    char b[8];
    uint64_t start = tu_now_ms();
    assert_int_equal(usocket_recvfrom(u, b, sizeof b, NULL), -1);
    assert_exc_msg(UPY_EXC_TIMEOUTERROR, "timed out");
    assert_true(tu_now_ms() - start >= 45);
    assert_int_equal(usocket_recv(u, b, sizeof b), -1);
    assert_exc_msg(UPY_EXC_TIMEOUTERROR, "timed out");
    usocket_release(u);
}

static void test_sendto_empty_returns_0_and_sends_nothing(void **state)
{
    (void)state;
    int port, receiver = tu_udp_peer(&port);
    usocket *u = tu_udp();
    usocket_addr to = tu_loopback(port);
    assert_int_equal(usocket_sendto(u, "", 0, &to), 0);
    assert_int_equal(usocket_sendto(u, "m", 1, &to), 1);
    /* Datagrams arrive in order on loopback: an empty one would come first. */
    char b[4];
    assert_true(tu_readable(receiver, 5000));
    assert_int_equal(recv(receiver, b, sizeof b, MSG_DONTWAIT), 1);
    assert_int_equal(b[0], 'm');
    usocket_release(u);
    close(receiver);
}

static void test_sendto_takes_only_dotted_quads(void **state)
{
    (void)state;
    usocket *u = tu_udp();
    usocket_addr host = {"localhost", 9};
    assert_int_equal(usocket_sendto(u, "x", 1, &host), -1);
    assert_exc_msg(UPY_EXC_VALUEERROR, "invalid arguments");
    usocket_addr short_quad = {"127.0.1", 9};
    assert_int_equal(usocket_sendto(u, "x", 1, &short_quad), -1);
    assert_exc_msg(UPY_EXC_VALUEERROR, "invalid arguments");
    usocket_release(u);
}

static void test_recv_on_udp_drops_the_source(void **state)
{
    (void)state;
    int port, sport, sender = tu_udp_peer(&sport);
    usocket *u = tu_usock_udp(&port);
    tu_udp_sendto(sender, big, sizeof big, port);
    tu_udp_sendto(sender, "tail", 4, port);
    static char b[4096];
    assert_int_equal(usocket_recv(u, b, sizeof b), 2048);
    assert_int_equal(usocket_recv(u, b, sizeof b), 4); /* recv is one datagram too */
    assert_memory_equal(b, "tail", 4);
    usocket_release(u);
    close(sender);
}

static void test_recv_zero_on_udp_discards_a_datagram(void **state)
{
    (void)state;
    int port, sport, sender = tu_udp_peer(&sport);
    usocket *u = tu_usock_udp(&port);
    tu_udp_sendto(sender, "first", 5, port);
    tu_udp_sendto(sender, "second", 6, port);
    char b[8];
    assert_int_equal(usocket_recv(u, b, 0), 0);
    assert_int_equal(usocket_recv(u, b, sizeof b), 6);
    assert_memory_equal(b, "second", 6);
    usocket_release(u);
    close(sender);
}

static void test_recvfrom_on_tcp_returns_the_peer(void **state)
{
    tu_conn *t = *state;
    usocket *s = t->s;
    int peer = t->peer;
    struct sockaddr_in local;
    socklen_t len = sizeof local;
    assert_int_equal(getsockname(peer, (struct sockaddr *)&local, &len), 0);
    assert_int_equal(write(peer, "abc", 3), 3);
    usocket_addr from = {"x", -1};
    char b[8];
    assert_int_equal(usocket_recvfrom(s, b, sizeof b, &from), 3);
    assert_memory_equal(b, "abc", 3);
    assert_string_equal(from.ip, "127.0.0.1");
    assert_int_equal(from.port, ntohs(local.sin_port));
}

static void test_sendto_on_tcp_ignores_the_address(void **state)
{
    tu_conn *t = *state;
    usocket *s = t->s;
    int peer = t->peer;
    usocket_addr elsewhere = tu_loopback(tu_closed_port());
    assert_int_equal(usocket_sendto(s, "via", 3, &elsewhere), 3);
    char b[3];
    assert_int_equal(tu_read_exact(peer, b, 3, 5000), 3);
    assert_memory_equal(b, "via", 3);
}

int main(void)
{
    tu_clear_upysock_env(); /* the board's defaults, whatever the caller exported */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recvfrom_reads_one_datagram_and_discards_its_rest),
        cmocka_unit_test(test_recvfrom_takes_at_most_2048),
        cmocka_unit_test(test_recvfrom_returns_the_source),
        cmocka_unit_test(test_sendto_between_socket_objects),
        cmocka_unit_test(test_nonblocking_recvfrom_is_eagain_while_recv_is_empty),
        cmocka_unit_test(test_timed_recvfrom_and_recv_are_timeouterror),
        cmocka_unit_test(test_sendto_empty_returns_0_and_sends_nothing),
        cmocka_unit_test(test_sendto_takes_only_dotted_quads),
        cmocka_unit_test(test_recv_on_udp_drops_the_source),
        cmocka_unit_test(test_recv_zero_on_udp_discards_a_datagram),
        TU_CONN_TEST(test_recvfrom_on_tcp_returns_the_peer),
        TU_CONN_TEST(test_sendto_on_tcp_ignores_the_address),
    };
    return cmocka_run_group_tests(tests, setup_pattern, NULL);
}
