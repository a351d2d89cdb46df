/* usocket module functions: getaddrinfo and dnsserver (SEMANTICS §3.3, §3.13;
 * firmware-notes §4). Runs in the default sandbox: no name here reaches a real resolver. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "upysock/uerrno.h"
#include "upysock/usocket.h"

/* The DNS table is process-wide: every test leaves it as the board starts, all 0.0.0.0. */
static int reset_dns(void **state)
{
    (void)state;
    const int slots[] = {0, 1, -254 /* slot 2, lwIP's fallback */};
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++)
        if (usocket_dnsserver_set(slots[i], "0.0.0.0") != 0)
            return -1;
    return 0;
}

static void assert_entry(const usocket_addrinfo *ai, const char *ip, int port)
{
    assert_int_equal(ai->family, 2);
    assert_int_equal(ai->socktype, 1);
    assert_int_equal(ai->proto, 0);
    assert_string_equal(ai->canonname, "");
    assert_string_equal(ai->sockaddr.ip, ip);
    assert_int_equal(ai->sockaddr.port, port);
}

/* --- getaddrinfo --------------------------------------------------------------------------- */

static void test_getaddrinfo_numeric_is_one_entry_as_is(void **state)
{
    (void)state;
    usocket_addrinfo ai;
    memset(&ai, 0x55, sizeof ai);
    assert_int_equal(usocket_getaddrinfo("192.168.0.234", 6543, &ai), 1);
    assert_entry(&ai, "192.168.0.234", 6543);
    assert_int_equal(usocket_getaddrinfo("10.0.0.1", 1, &ai), 1);
    assert_entry(&ai, "10.0.0.1", 1);
    assert_int_equal(usocket_getaddrinfo("127.0.0.1", 65535, &ai), 1);
    assert_entry(&ai, "127.0.0.1", 65535);
}

static void test_getaddrinfo_localhost_is_loopback(void **state)
{
    (void)state;
    usocket_addrinfo ai;
    assert_int_equal(usocket_getaddrinfo("localhost", 80, &ai), 1);
    assert_entry(&ai, "127.0.0.1", 80);
}

static void test_getaddrinfo_port_out_of_range_is_eai_service(void **state)
{
    (void)state;
    usocket_addrinfo ai;
    const int bad[] = {0, -1, 65536, 100000};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(usocket_getaddrinfo("127.0.0.1", bad[i], &ai), -1);
        assert_oserror(UERRNO_EAI_SERVICE);
        assert_int_equal(upy_exc_current()->code, 201);
    }
    /* The service is checked before the name. */
    assert_int_equal(usocket_getaddrinfo("no.such.host", 0, &ai), -1);
    assert_oserror(201);
}

static void test_getaddrinfo_unresolvable_is_eai_fail(void **state)
{
    (void)state;
    usocket_addrinfo ai;
    assert_int_equal(usocket_getaddrinfo("no.such.host", 80, &ai), -1);
    assert_oserror(UERRNO_EAI_FAIL);
    assert_int_equal(upy_exc_current()->code, 202);
    assert_int_equal(usocket_getaddrinfo("", 80, &ai), -1);
    assert_oserror(202);
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(usocket_getaddrinfo(longname, 80, &ai), -1);
    assert_oserror(202);
}

static void test_getaddrinfo_answer_connects(void **state)
{
    (void)state;
    int port, listener = tu_listener(&port);
    usocket_addrinfo ai;
    assert_int_equal(usocket_getaddrinfo("localhost", port, &ai), 1);
    usocket *s = tu_tcp();
    assert_int_equal(usocket_connect(s, &ai.sockaddr), 0);
    int peer = tu_accept(listener, 5000);
    assert_true(peer >= 0);
    usocket_release(s);
    close(peer);
    close(listener);
}

static void test_getaddrinfo_null_arguments_are_typeerror(void **state)
{
    (void)state;
    usocket_addrinfo ai;
    assert_int_equal(usocket_getaddrinfo(NULL, 80, &ai), -1);
    assert_int_equal(upy_exc_current()->type, UPY_EXC_TYPEERROR);
    assert_int_equal(usocket_getaddrinfo("localhost", 80, NULL), -1);
    assert_int_equal(upy_exc_current()->type, UPY_EXC_TYPEERROR);
}

/* --- dnsserver ----------------------------------------------------------------------------- */

static void test_dnsserver_starts_empty(void **state)
{
    (void)state;
    char ip[16];
    assert_int_equal(usocket_dnsserver(0, ip), 0);
    assert_string_equal(ip, "0.0.0.0");
    assert_int_equal(usocket_dnsserver(1, ip), 1);
    assert_string_equal(ip, "0.0.0.0");
}

static void test_dnsserver_set_then_get(void **state)
{
    (void)state;
    char ip[16];
    assert_int_equal(usocket_dnsserver_set(0, "8.8.8.8"), 0);
    assert_int_equal(usocket_dnsserver_set(1, "1.1.1.1"), 0);
    assert_int_equal(usocket_dnsserver(0, ip), 0);
    assert_string_equal(ip, "8.8.8.8");
    assert_int_equal(usocket_dnsserver(1, ip), 1);
    assert_string_equal(ip, "1.1.1.1");
    assert_int_equal(usocket_dnsserver_set(1, ""), 0); /* '' is 0.0.0.0 */
    assert_int_equal(usocket_dnsserver(1, ip), 1);
    assert_string_equal(ip, "0.0.0.0");
    /* netutils truncates each octet to 8 bits. */
    assert_int_equal(usocket_dnsserver_set(0, "1.2.3.300"), 0);
    assert_int_equal(usocket_dnsserver(0, ip), 0);
    assert_string_equal(ip, "1.2.3.44");
}

static void test_dnsserver_index_two_is_out_of_range(void **state)
{
    (void)state;
    char ip[16];
    assert_int_equal(usocket_dnsserver(2, ip), -1);
    assert_exc_msg(UPY_EXC_VALUEERROR, "Index out of range!\n");
    assert_int_equal(usocket_dnsserver_set(2, "1.2.3.4"), -1);
    assert_exc_msg(UPY_EXC_VALUEERROR, "Index out of range!\n");
    assert_int_equal(usocket_dnsserver(1000, ip), -1);
    assert_exc_msg(UPY_EXC_VALUEERROR, "Index out of range!\n");
}

static void test_dnsserver_negative_index_wraps_to_8_bits(void **state)
{
    (void)state;
    char ip[16];
    assert_int_equal(usocket_dnsserver(-1, ip), 255);
    assert_string_equal(ip, "0.0.0.0");
    assert_int_equal(usocket_dnsserver(-2, ip), 254);
    assert_int_equal(usocket_dnsserver_set(0, "8.8.4.4"), 0);
    assert_int_equal(usocket_dnsserver(-256, ip), 0);
    assert_string_equal(ip, "8.8.4.4");
    /* -254 is slot 2, lwIP's hidden fallback server. */
    assert_int_equal(usocket_dnsserver_set(-254, "9.9.9.9"), 0);
    assert_int_equal(usocket_dnsserver(-254, ip), 2);
    assert_string_equal(ip, "9.9.9.9");
    /* Beyond lwIP's three slots a set is silently ignored. */
    assert_int_equal(usocket_dnsserver_set(-1, "7.7.7.7"), 0);
    assert_int_equal(usocket_dnsserver(-1, ip), 255);
    assert_string_equal(ip, "0.0.0.0");
}

static void test_dnsserver_set_takes_only_dotted_quads(void **state)
{
    (void)state;
    /* IPv6 text too: the setter parses IPv4 only, so the getter's "Only IPv4 addresses are
     * currently supported" can never be reached (firmware-notes §4). */
    const char *bad[] = {"dns.google", "1.2.3", "1.2.3.4.5", "8.8.8.8.", "0123456789abcdefghij", "::1",
                         "2001:db8::53"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(usocket_dnsserver_set(0, bad[i]), -1);
        assert_exc_msg(UPY_EXC_VALUEERROR, "invalid arguments");
    }
    char ip[16];
    assert_int_equal(usocket_dnsserver(0, ip), 0);
    assert_string_equal(ip, "0.0.0.0"); /* untouched */
    assert_int_equal(usocket_dnsserver_set(0, NULL), -1);
    assert_int_equal(upy_exc_current()->type, UPY_EXC_TYPEERROR);
}

/* --- the module's constants and methods ---------------------------------------------------- */

static void test_module_constants_are_the_devices(void **state)
{
    (void)state;
    assert_int_equal(USOCKET_AF_INET, 2);
    assert_int_equal(USOCKET_AF_LORA, 160);
    assert_int_equal(USOCKET_AF_SIGFOX, 161);
    assert_int_equal(USOCKET_SOCK_STREAM, 1);
    assert_int_equal(USOCKET_SOCK_DGRAM, 2);
    assert_int_equal(USOCKET_IPPROTO_IP, 0);
    assert_int_equal(USOCKET_IPPROTO_ICMP, 1);
    assert_int_equal(USOCKET_IPPROTO_UDP, 17);
    assert_int_equal(USOCKET_IPPROTO_IPV6, 41);
    assert_int_equal(USOCKET_IPPROTO_RAW, 255);
    /* lwIP's numbers, which the device accepts numerically (lwip/sockets.h). */
    assert_int_equal(USOCKET_SO_BROADCAST, 0x20);
    assert_int_equal(USOCKET_SO_RCVBUF, 0x1002);
    assert_int_equal(USOCKET_IP_MULTICAST_TTL, 5);
}

/* The socket type has no shutdown, getsockopt, getpeername, getsockname, gettimeout, recv_into
 * or readall (AttributeError on the board): the shared library exports no such function. */
static void test_methods_the_board_lacks_are_not_exported(void **state)
{
    (void)state;
    tu_proc p;
    char *argv[] = {UPYSOCK_NM, "-D", "--defined-only", UPYSOCK_SHARED_LIB, NULL};
    assert_int_equal(tu_run(&p, argv, NULL, 10000), 0);
    assert_true(strstr(p.out, " usocket_recv\n") != NULL); /* the listing is the library's */
    const char *absent[] = {"shutdown", "getsockopt", "getpeername", "getsockname", "gettimeout",
                            "recv_into", "readall"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, " usocket_%s", absent[i]);
        if (strstr(p.out, name))
            fail_msg("the library exports%s", name);
    }
}

#define T(name) cmocka_unit_test_teardown(name, reset_dns)

int main(void)
{
    tu_clear_upysock_env(); /* the board's defaults, whatever the caller exported */
    const struct CMUnitTest tests[] = {
        T(test_getaddrinfo_numeric_is_one_entry_as_is),
        T(test_getaddrinfo_localhost_is_loopback),
        T(test_getaddrinfo_port_out_of_range_is_eai_service),
        T(test_getaddrinfo_unresolvable_is_eai_fail),
        T(test_getaddrinfo_answer_connects),
        T(test_getaddrinfo_null_arguments_are_typeerror),
        T(test_dnsserver_starts_empty),
        T(test_dnsserver_set_then_get),
        T(test_dnsserver_index_two_is_out_of_range),
        T(test_dnsserver_negative_index_wraps_to_8_bits),
        T(test_dnsserver_set_takes_only_dotted_quads),
        T(test_module_constants_are_the_devices),
        T(test_methods_the_board_lacks_are_not_exported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
