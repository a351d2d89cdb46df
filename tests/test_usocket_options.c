/* usocket options and modes: setsockopt with lwIP numbers and lwIP's checks (SEMANTICS §3.10,
 * firmware-notes §3), settimeout/setblocking (SEMANTICS §3.9). */
#define _GNU_SOURCE
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "upysock/uerrno.h"
#include "upysock/usocket.h"

#define STILL_BLOCKED_MS 250

enum { SOL = USOCKET_SOL_SOCKET, TCP = USOCKET_IPPROTO_TCP, IP = USOCKET_IPPROTO_IP };

/* What the kernel holds for a Linux option on the socket's fd (an int option). */
static int kernel_int(usocket *s, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof v;
    assert_int_equal(getsockopt(tu_kernel_fd(s), level, name, &v, &len), 0);
    return v;
}

static int kernel_timeout_ms(usocket *s, int name)
{
    struct timeval tv;
    socklen_t len = sizeof tv;
    assert_int_equal(getsockopt(tu_kernel_fd(s), SOL_SOCKET, name, &tv, &len), 0);
    return (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000);
}

/* A recv in another thread stays blocked through the window, then returns the byte written. */
static void assert_recv_blocks(usocket *s, int peer)
{
    char b[4];
    tu_bg bg;
    tu_bg_recv(&bg, s, b, sizeof b);
    bool returned_early = tu_bg_wait(&bg, STILL_BLOCKED_MS);
    if (!returned_early)
        assert_int_equal(write(peer, "x", 1), 1);
    assert_true(returned_early || tu_bg_wait(&bg, 5000));
    assert_false(returned_early);
    assert_int_equal(bg.result, 1);
}

/* --- setsockopt ---------------------------------------------------------------------------- */

static void test_reuseaddr_is_accepted_and_harmless(void **state)
{
    (void)state;
    int port;
    usocket *a = tu_tcp(), *b = tu_tcp(), *u = tu_udp();
    usocket *l = tu_usock_listener(1, &port);
    /* The tutorial's setsockopt(SOL_SOCKET, SO_REUSEADDR, 1) is (0xFFF, 4) on the device. */
    assert_int_equal(usocket_setsockopt_int(a, SOL, USOCKET_SO_REUSEADDR, 1), 0);
    assert_int_equal(usocket_setsockopt_int(u, SOL, USOCKET_SO_REUSEADDR, 1), 0);
    assert_int_equal(usocket_setsockopt_int(l, SOL, USOCKET_SO_REUSEADDR, 1), 0);
    assert_int_equal(kernel_int(a, SOL_SOCKET, SO_REUSEADDR), 1);
    usocket_addr any = tu_loopback(0);
    assert_int_equal(usocket_bind(a, &any), 0);
    usocket_addr same = tu_loopback(tu_usock_port(a));
    assert_int_equal(usocket_setsockopt_int(b, SOL, USOCKET_SO_REUSEADDR, 1), 0);
    assert_int_equal(usocket_bind(b, &same), 0);
    usocket_release(a);
    usocket_release(b);
    usocket_release(u);
    usocket_release(l);
}

static void test_keepalive_reaches_the_kernel(void **state)
{
    usocket *s = ((tu_conn *)*state)->s;
    assert_int_equal(usocket_setsockopt_int(s, SOL, USOCKET_SO_KEEPALIVE, 1), 0);
    assert_int_equal(kernel_int(s, SOL_SOCKET, SO_KEEPALIVE), 1);
    assert_int_equal(usocket_setsockopt_int(s, SOL, USOCKET_SO_KEEPALIVE, 0), 0);
    assert_int_equal(kernel_int(s, SOL_SOCKET, SO_KEEPALIVE), 0);
}

static void test_tcp_options_translate(void **state)
{
    usocket *s = ((tu_conn *)*state)->s;
    assert_int_equal(usocket_setsockopt_int(s, TCP, USOCKET_TCP_NODELAY, 1), 0);
    assert_int_equal(kernel_int(s, IPPROTO_TCP, TCP_NODELAY), 1);
    assert_int_equal(usocket_setsockopt_int(s, TCP, USOCKET_TCP_KEEPIDLE, 7), 0); /* seconds */
    assert_int_equal(kernel_int(s, IPPROTO_TCP, TCP_KEEPIDLE), 7);
    assert_int_equal(usocket_setsockopt_int(s, TCP, USOCKET_TCP_KEEPALIVE, 5000), 0); /* ms */
    assert_int_equal(kernel_int(s, IPPROTO_TCP, TCP_KEEPIDLE), 5);
    assert_int_equal(usocket_setsockopt_int(s, TCP, USOCKET_TCP_KEEPINTVL, 3), 0);
    assert_int_equal(kernel_int(s, IPPROTO_TCP, TCP_KEEPINTVL), 3);
    assert_int_equal(usocket_setsockopt_int(s, TCP, USOCKET_TCP_KEEPCNT, 4), 0);
    assert_int_equal(kernel_int(s, IPPROTO_TCP, TCP_KEEPCNT), 4);
    assert_int_equal(usocket_setsockopt_int(s, IP, USOCKET_IP_TTL, 17), 0);
    assert_int_equal(kernel_int(s, IPPROTO_IP, IP_TTL), 17);
}

static void test_unknown_option_is_enoprotoopt(void **state)
{
    (void)state;
    usocket *s = tu_tcp();
    /* Linux's (SOL_SOCKET, SO_REUSEADDR) is an unknown level on the device. */
    assert_int_equal(usocket_setsockopt_int(s, 1, 2, 1), -1);
    assert_oserror(109);
    assert_int_equal(usocket_setsockopt_int(s, SOL, 0x1234, 1), -1);
    assert_oserror(109);
    assert_int_equal(usocket_setsockopt_int(s, IP, 0x77, 1), -1);
    assert_oserror(109);
    /* Unknown options get no length check. */
    assert_int_equal(usocket_setsockopt(s, SOL, 0x1234, "", 1), -1);
    assert_oserror(109);
    usocket_release(s);
}

static void test_options_lwip_cannot_set_are_enoprotoopt(void **state)
{
    (void)state;
    usocket *s = tu_tcp();
    int32_t linger[2] = {1, 0};
    assert_int_equal(usocket_setsockopt(s, SOL, USOCKET_SO_LINGER, linger, sizeof linger), -1);
    assert_oserror(109); /* LWIP_SO_LINGER is 0 in this build */
    assert_int_equal(usocket_setsockopt_int(s, SOL, USOCKET_SO_SNDBUF, 65536), -1);
    assert_oserror(109);
    assert_int_equal(usocket_setsockopt_int(s, SOL, USOCKET_SO_ERROR, 0), -1);
    assert_oserror(109); /* get-only */
    assert_int_equal(usocket_setsockopt_int(s, SOL, USOCKET_SO_TYPE, 1), -1);
    assert_oserror(109);
    usocket_release(s);
}

static void test_timeout_options_need_an_8_byte_timeval(void **state)
{
    (void)state;
    usocket *s = tu_tcp();
    assert_int_equal(usocket_setsockopt_int(s, SOL, USOCKET_SO_RCVTIMEO, 1), -1);
    assert_oserror(UERRNO_EINVAL); /* a Python int is 4 bytes */
    assert_int_equal(usocket_setsockopt_int(s, SOL, USOCKET_SO_SNDTIMEO, 1), -1);
    assert_oserror(UERRNO_EINVAL);
    int32_t tv[2] = {1, 500000}; /* {int32 tv_sec, int32 tv_usec} */
    assert_int_equal(usocket_setsockopt(s, SOL, USOCKET_SO_RCVTIMEO, tv, sizeof tv), 0);
    assert_int_equal(kernel_timeout_ms(s, SO_RCVTIMEO), 1500);
    assert_int_equal(usocket_setsockopt(s, SOL, USOCKET_SO_SNDTIMEO, tv, sizeof tv), 0);
    assert_int_equal(kernel_timeout_ms(s, SO_SNDTIMEO), 1500);
    usocket_release(s);
}

static void test_rcvtimeo_option_makes_blocking_recv_return_empty(void **state)
{
    tu_conn *t = *state;
    usocket *s = t->s;
    int peer = t->peer;
    int32_t tv[2] = {0, 50000};
    assert_int_equal(usocket_setsockopt(s, SOL, USOCKET_SO_RCVTIMEO, tv, sizeof tv), 0);
    /* EAGAIN on a socket whose Python timeout is -1 reads as "no data": b'', not TimeoutError. */
    char b[4];
    uint64_t start = tu_now_ms();
    assert_int_equal(usocket_recv(s, b, sizeof b), 0);
    assert_true(tu_now_ms() - start >= 45);
    assert_int_equal(write(peer, "x", 1), 1);
    assert_int_equal(usocket_recv(s, b, sizeof b), 1);
}

static void test_settimeout_rewrites_timeouts_set_by_option(void **state)
{
    tu_conn *t = *state;
    usocket *s = t->s;
    int peer = t->peer;
    int32_t tv[2] = {0, 50000};
    /* On the device settimeout always sets lwIP's SO_SNDTIMEO/SO_RCVTIMEO, so it undoes what
     * setsockopt put there, even when the mode it asks for is the one the socket had. */
    assert_int_equal(usocket_setsockopt(s, SOL, USOCKET_SO_RCVTIMEO, tv, sizeof tv), 0);
    assert_int_equal(usocket_settimeout(s, USOCKET_TIMEOUT_NONE), 0);
    assert_recv_blocks(s, peer);
    assert_int_equal(usocket_settimeout(s, 5.0), 0);
    assert_int_equal(usocket_setsockopt(s, SOL, USOCKET_SO_RCVTIMEO, tv, sizeof tv), 0);
    assert_int_equal(usocket_setsockopt(s, SOL, USOCKET_SO_SNDTIMEO, tv, sizeof tv), 0);
    assert_int_equal(usocket_settimeout(s, 5.0), 0);
    assert_int_equal(kernel_timeout_ms(s, SO_RCVTIMEO), 5000);
    assert_int_equal(kernel_timeout_ms(s, SO_SNDTIMEO), 5000);
}

static void test_tcp_option_on_udp_is_enoprotoopt(void **state)
{
    (void)state;
    usocket *u = tu_udp();
    assert_int_equal(usocket_setsockopt_int(u, TCP, USOCKET_TCP_NODELAY, 1), -1);
    assert_oserror(109);
    assert_int_equal(usocket_setsockopt_int(u, TCP, USOCKET_TCP_KEEPIDLE, 1), -1);
    assert_oserror(109);
    assert_int_equal(usocket_setsockopt_int(u, TCP, 0x10, 1), -1);
    assert_oserror(109);
    usocket_release(u);
}

static void test_tcp_level_checks_come_before_the_option(void **state)
{
    (void)state;
    int port, peer;
    usocket *l = tu_usock_listener(1, &port);
    /* Every IPPROTO_TCP option on a listening socket is EINVAL, known or not. */
    assert_int_equal(usocket_setsockopt_int(l, TCP, USOCKET_TCP_NODELAY, 1), -1);
    assert_oserror(UERRNO_EINVAL);
    assert_int_equal(usocket_setsockopt_int(l, TCP, 0x10, 1), -1);
    assert_oserror(UERRNO_EINVAL);
    usocket *s = tu_usock_connected(&peer);
    /* All TCP options take an int: a shorter value is EINVAL before the option is looked at. */
    assert_int_equal(usocket_setsockopt(s, TCP, USOCKET_TCP_NODELAY, "\1", 1), -1);
    assert_oserror(UERRNO_EINVAL);
    assert_int_equal(usocket_setsockopt(s, TCP, 0x10, "\1", 1), -1);
    assert_oserror(UERRNO_EINVAL);
    assert_int_equal(usocket_setsockopt_int(s, TCP, 0x10, 1), -1);
    assert_oserror(109);
    usocket_release(s);
    usocket_release(l);
    close(peer);
}

static void test_membership_options_are_udp_only(void **state)
{
    (void)state;
    usocket *s = tu_tcp(), *u = tu_udp();
    unsigned char mreq[8] = {224, 1, 2, 3, 127, 0, 0, 1};
    assert_int_equal(usocket_setsockopt(s, IP, USOCKET_IP_ADD_MEMBERSHIP, mreq, sizeof mreq), -1);
    assert_oserror(109);
    assert_int_equal(usocket_setsockopt(s, IP, USOCKET_IP_DROP_MEMBERSHIP, mreq, sizeof mreq), -1);
    assert_oserror(109);
    /* The length is checked before the socket type. */
    assert_int_equal(usocket_setsockopt(s, IP, USOCKET_IP_ADD_MEMBERSHIP, mreq, 4), -1);
    assert_oserror(UERRNO_EINVAL);
    assert_int_equal(usocket_setsockopt(u, IP, USOCKET_IP_ADD_MEMBERSHIP, mreq, 4), -1);
    assert_oserror(UERRNO_EINVAL);
    usocket_release(s);
    usocket_release(u);
}

/* The devices that hold multicast group `a.b.c.d` (/proc/net/igmp), space-separated. */
static const char *igmp_devices(int a, int b, int c, int d)
{
    static char found[256];
    char line[256], device[32] = "", want[9];
    snprintf(want, sizeof want, "%08X", htonl((uint32_t)a << 24 | (uint32_t)b << 16 | (uint32_t)c << 8 | (uint32_t)d));
    found[0] = '\0';
    FILE *f = fopen("/proc/net/igmp", "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f)) {
        char group[16];
        if (line[0] != '\t' && sscanf(line, "%*d %31s", device) == 1)
            continue;
        if (line[0] == '\t' && sscanf(line, " %15s", group) == 1 && strcmp(group, want) == 0)
            snprintf(found + strlen(found), sizeof found - strlen(found), "%s%s", *found ? " " : "", device);
    }
    fclose(f);
    return found;
}

/* Sandbox: whatever interface a program names (0.0.0.0: "all of them"; its LAN address), groups
 * are joined on loopback only, and multicast goes out of loopback only: on a machine with a real
 * network nothing is joined there and no IGMP leaves the machine. */
static void test_sandbox_pins_multicast_to_loopback(void **state)
{
    (void)state;
    usocket *u = tu_udp();
    const unsigned char any[8] = {239, 87, 65, 43, 0, 0, 0, 0}, lan[8] = {239, 87, 65, 44, 192, 168, 0, 5};
    assert_int_equal(usocket_setsockopt(u, IP, USOCKET_IP_ADD_MEMBERSHIP, any, sizeof any), 0);
    assert_int_equal(usocket_setsockopt(u, IP, USOCKET_IP_ADD_MEMBERSHIP, lan, sizeof lan), 0);
    assert_string_equal(igmp_devices(239, 87, 65, 43), "lo");
    assert_string_equal(igmp_devices(239, 87, 65, 44), "lo");
    assert_int_equal(usocket_setsockopt(u, IP, USOCKET_IP_DROP_MEMBERSHIP, lan, sizeof lan), 0);
    assert_string_equal(igmp_devices(239, 87, 65, 44), "");
    const unsigned char ifaddr[4] = {192, 168, 0, 5};
    assert_int_equal(usocket_setsockopt(u, IP, USOCKET_IP_MULTICAST_IF, ifaddr, sizeof ifaddr), 0);
    struct in_addr out;
    socklen_t len = sizeof out;
    assert_int_equal(getsockopt(tu_kernel_fd(u), IPPROTO_IP, IP_MULTICAST_IF, &out, &len), 0);
    assert_int_equal(ntohl(out.s_addr), 0x7f000001);
    usocket_release(u);
    assert_string_equal(igmp_devices(239, 87, 65, 43), ""); /* close leaves the group */
}

/* The netns test's child: 0 proven, 1 a group landed off loopback, 2 the set-up cannot catch a
 * leak, TU_SKIP_STATUS no namespace could be made. */
static int multicast_in_a_namespace(void)
{
    alarm(20); /* bounded: the parent waits for this process */
    if (unshare(CLONE_NEWNET) != 0 ||
        system("ip link set lo up && ip link add upy0 type veth peer name upy1 && "
               "ip addr add 10.99.0.1/24 dev upy0 && ip link set upy1 up && ip link set upy0 up && "
               "ip route add default dev upy0") != 0)
        return TU_SKIP_STATUS;
    /* The set-up can catch a leak: the kernel itself joins "every interface" on upy0. */
    int raw = socket(AF_INET, SOCK_DGRAM, 0);
    struct ip_mreq m = {.imr_multiaddr.s_addr = htonl(0xEF57412F), .imr_interface.s_addr = htonl(INADDR_ANY)};
    if (setsockopt(raw, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) != 0 ||
        strcmp(igmp_devices(239, 87, 65, 47), "upy0") != 0)
        return 2;
    usocket *u = usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_DGRAM, 0);
    const unsigned char any[8] = {239, 87, 65, 45, 0, 0, 0, 0}, lan[8] = {239, 87, 65, 46, 10, 99, 0, 1};
    int rc = !u || usocket_setsockopt(u, IP, USOCKET_IP_ADD_MEMBERSHIP, any, sizeof any) != 0 ||
             usocket_setsockopt(u, IP, USOCKET_IP_ADD_MEMBERSHIP, lan, sizeof lan) != 0 ||
             strcmp(igmp_devices(239, 87, 65, 45), "lo") != 0 || strcmp(igmp_devices(239, 87, 65, 46), "lo") != 0;
    usocket_release(u); /* the child is leak-checked too (valgrind follows the fork) */
    close(raw);
    return rc;
}

/* The same proof where a real-looking interface is certain to exist: a network namespace with a
 * veth pair, one end holding the default route, where the kernel itself would join. Needs root
 * and iproute2 (ip); skipped with a message otherwise. */
static void test_sandbox_multicast_stays_off_a_real_interface_in_a_namespace(void **state)
{
    (void)state;
    tu_skip_if_missing("multicast namespace", tu_netns_missing());
    tu_skip_if_missing("multicast namespace", tu_program_missing("ip"));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(multicast_in_a_namespace());
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    tu_skip_if_missing("multicast namespace", WEXITSTATUS(status) == TU_SKIP_STATUS
                                                  ? "cannot make a network namespace with a veth pair"
                                                  : NULL);
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* lwIP's igmp_joingroup/leavegroup: a group that is not multicast, or all-systems, → 125. */
static void test_membership_of_a_non_multicast_group_is_eaddrnotavail(void **state)
{
    (void)state;
    usocket *u = tu_udp();
    const unsigned char unicast[8] = {10, 0, 0, 1, 0, 0, 0, 0}, all[8] = {224, 0, 0, 1, 0, 0, 0, 0};
    assert_int_equal(usocket_setsockopt(u, IP, USOCKET_IP_ADD_MEMBERSHIP, unicast, sizeof unicast), -1);
    assert_oserror(UERRNO_EADDRNOTAVAIL);
    assert_int_equal(usocket_setsockopt(u, IP, USOCKET_IP_ADD_MEMBERSHIP, all, sizeof all), -1);
    assert_oserror(UERRNO_EADDRNOTAVAIL);
    assert_int_equal(usocket_setsockopt(u, IP, USOCKET_IP_DROP_MEMBERSHIP, unicast, sizeof unicast), -1);
    assert_oserror(UERRNO_EADDRNOTAVAIL);
    usocket_release(u);
}

static void test_setsockopt_on_closed_socket_is_ebadf(void **state)
{
    (void)state;
    usocket *s = tu_tcp();
    assert_int_equal(usocket_close(s), 0);
    assert_int_equal(usocket_setsockopt_int(s, SOL, USOCKET_SO_REUSEADDR, 1), -1);
    assert_oserror(UERRNO_EBADF);
    assert_int_equal(usocket_setsockopt_int(s, 1, 2, 1), -1);
    assert_oserror(UERRNO_EBADF); /* the socket is looked up first */
    usocket_release(s);
}

/* --- settimeout / setblocking -------------------------------------------------------------- */

static void test_settimeout_none_or_negative_blocks(void **state)
{
    tu_conn *t = *state;
    usocket *s = t->s;
    int peer = t->peer;
    assert_int_equal(usocket_settimeout(s, 0.05), 0);
    assert_int_equal(usocket_settimeout(s, USOCKET_TIMEOUT_NONE), 0);
    assert_recv_blocks(s, peer);
    assert_int_equal(usocket_settimeout(s, 0), 0);
    assert_int_equal(usocket_settimeout(s, -5.0), 0);
    assert_recv_blocks(s, peer);
}

static void test_settimeout_zero_is_nonblocking(void **state)
{
    (void)state;
    int peer, port;
    usocket *s = tu_usock_connected(&peer);
    assert_int_equal(usocket_settimeout(s, 0), 0);
    char b[4];
    assert_int_equal(usocket_recv(s, b, sizeof b), 0);
    assert_int_equal(usocket_recvfrom(s, b, sizeof b, NULL), -1);
    assert_oserror(UERRNO_EAGAIN);
    usocket *l = tu_usock_listener(1, &port);
    assert_int_equal(usocket_settimeout(l, 0), 0);
    assert_null(usocket_accept(l, NULL));
    assert_oserror(UERRNO_EAGAIN);
    usocket_release(l);
    usocket_release(s);
    close(peer);
}

static void test_sub_millisecond_timeout_is_nonblocking(void **state)
{
    usocket *s = ((tu_conn *)*state)->s;
    /* int(1000 * 0.0005) is 0: non-blocking, not a short timeout. */
    assert_int_equal(usocket_settimeout(s, 0.0005), 0);
    char b[4];
    assert_int_equal(usocket_recv(s, b, sizeof b), 0);
    assert_int_equal(usocket_recvfrom(s, b, sizeof b, NULL), -1);
    assert_oserror(UERRNO_EAGAIN); /* a timed socket would say TimeoutError */
}

static void test_settimeout_nan_is_valueerror(void **state)
{
    (void)state;
    usocket *s = tu_tcp();
    assert_int_equal(usocket_settimeout(s, NAN), -1);
    assert_exc_msg(UPY_EXC_VALUEERROR, "timeout must be a number");
    usocket_release(s);
}

static void test_setblocking_is_settimeout(void **state)
{
    tu_conn *t = *state;
    usocket *s = t->s;
    int peer = t->peer;
    assert_int_equal(usocket_settimeout(s, 0.05), 0);
    assert_int_equal(usocket_setblocking(s, true), 0); /* settimeout(None) */
    assert_recv_blocks(s, peer);
    assert_int_equal(usocket_setblocking(s, false), 0); /* settimeout(0) */
    char b[4];
    assert_int_equal(usocket_recv(s, b, sizeof b), 0);
    assert_int_equal(usocket_recvfrom(s, b, sizeof b, NULL), -1);
    assert_oserror(UERRNO_EAGAIN);
}

int main(void)
{
    tu_clear_upysock_env(); /* the board's defaults, whatever the caller exported */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuseaddr_is_accepted_and_harmless),
        TU_CONN_TEST(test_keepalive_reaches_the_kernel),
        TU_CONN_TEST(test_tcp_options_translate),
        cmocka_unit_test(test_unknown_option_is_enoprotoopt),
        cmocka_unit_test(test_options_lwip_cannot_set_are_enoprotoopt),
        cmocka_unit_test(test_timeout_options_need_an_8_byte_timeval),
        TU_CONN_TEST(test_rcvtimeo_option_makes_blocking_recv_return_empty),
        TU_CONN_TEST(test_settimeout_rewrites_timeouts_set_by_option),
        cmocka_unit_test(test_tcp_option_on_udp_is_enoprotoopt),
        cmocka_unit_test(test_tcp_level_checks_come_before_the_option),
        cmocka_unit_test(test_membership_options_are_udp_only),
        cmocka_unit_test(test_sandbox_pins_multicast_to_loopback),
        cmocka_unit_test(test_sandbox_multicast_stays_off_a_real_interface_in_a_namespace),
        cmocka_unit_test(test_membership_of_a_non_multicast_group_is_eaddrnotavail),
        cmocka_unit_test(test_setsockopt_on_closed_socket_is_ebadf),
        TU_CONN_TEST(test_settimeout_none_or_negative_blocks),
        cmocka_unit_test(test_settimeout_zero_is_nonblocking),
        TU_CONN_TEST(test_sub_millisecond_timeout_is_nonblocking),
        cmocka_unit_test(test_settimeout_nan_is_valueerror),
        TU_CONN_TEST(test_setblocking_is_settimeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
