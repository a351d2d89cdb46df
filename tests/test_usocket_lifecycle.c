/* usocket objects: socket(), the socket slots and fileno(), close, release, bad handles
 * (SEMANTICS §3.1, §3.11). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "upysock/uerrno.h"
#include "upysock/usocket.h"

enum { SLOTS = 10, FILENO_BASE = 54 };


static void open_all(usocket *s[], int n)
{
    for (int i = 0; i < n; i++)
        s[i] = tu_tcp();
}

static void release_all(usocket *s[], int n)
{
    for (int i = 0; i < n; i++)
        usocket_release(s[i]);
}

/* --- socket() ------------------------------------------------------------------------------ */

static void test_socket_inet_stream_and_dgram(void **state)
{
    (void)state;
    usocket *tcp = usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_STREAM, USOCKET_IPPROTO_TCP);
    usocket *udp = usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_DGRAM, USOCKET_IPPROTO_UDP);
    assert_non_null(tcp);
    assert_non_null(udp);
    usocket_release(tcp);
    usocket_release(udp);
}

static void test_socket_proto_is_derived_from_type(void **state)
{
    (void)state;
    /* socket(AF_INET, SOCK_DGRAM) keeps the default proto 6 on the device; lwIP ignores it. */
    usocket *u = usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_DGRAM, USOCKET_IPPROTO_TCP);
    assert_non_null(u);
    usocket_addr any = tu_loopback(0);
    assert_int_equal(usocket_bind(u, &any), 0);
    usocket_addr self = tu_loopback(tu_usock_port(u));
    assert_int_equal(usocket_sendto(u, "dgram", 5, &self), 5);
    char buf[16];
    assert_int_equal(usocket_recvfrom(u, buf, sizeof buf, NULL), 5); /* a UDP socket after all */
    usocket_release(u);
    usocket *t = usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_STREAM, USOCKET_IPPROTO_UDP);
    assert_non_null(t);
    usocket_release(t);
}

static void test_socket_lora_and_sigfox_have_no_card(void **state)
{
    (void)state;
    assert_null(usocket_socket(USOCKET_AF_LORA, USOCKET_SOCK_RAW, 0));
    assert_exc_msg(UPY_EXC_OSERROR, "Network card not available");
    assert_null(usocket_socket(USOCKET_AF_SIGFOX, USOCKET_SOCK_RAW, 0));
    assert_exc_msg(UPY_EXC_OSERROR, "Network card not available");
}

static void test_socket_other_family_is_incorrect_type(void **state)
{
    (void)state;
    assert_null(usocket_socket(10 /* Linux AF_INET6 */, USOCKET_SOCK_STREAM, 0));
    assert_exc_msg(UPY_EXC_OSERROR, "incorrect socket type");
    assert_null(usocket_socket(0, USOCKET_SOCK_DGRAM, 0));
    assert_exc_msg(UPY_EXC_OSERROR, "incorrect socket type");
}

static void test_socket_unknown_type_is_einval(void **state)
{
    (void)state;
    /* lwip_socket: a type it has no netconn for → EINVAL. */
    assert_null(usocket_socket(USOCKET_AF_INET, 99, 0));
    assert_oserror(UERRNO_EINVAL);
    /* The board makes raw lwIP sockets; the emulator has none to offer. */
    assert_null(usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_RAW, 0));
    assert_oserror(UERRNO_EPROTONOSUPPORT);
}

static void test_reuseaddr_is_on_by_default(void **state)
{
    (void)state;
    usocket *a = tu_tcp(), *b = tu_tcp();
    usocket_addr any = tu_loopback(0);
    assert_int_equal(usocket_bind(a, &any), 0);
    usocket_addr same = tu_loopback(tu_usock_port(a));
    /* Two sockets on one port while neither listens: only SO_REUSEADDR allows it. */
    assert_int_equal(usocket_bind(b, &same), 0);
    /* Two listeners on one port is the conflict lwIP reports, at listen(). */
    assert_int_equal(usocket_listen(a, 1), 0);
    assert_int_equal(usocket_listen(b, 1), -1);
    assert_oserror(UERRNO_EADDRINUSE);
    usocket_release(a);
    usocket_release(b);
}

/* The default is applied at bind (not at socket()): a program's own choice still wins there. */
static void test_reuseaddr_turned_off_is_kept_at_bind(void **state)
{
    (void)state;
    usocket *a = tu_tcp(), *b = tu_tcp();
    usocket_addr any = tu_loopback(0);
    assert_int_equal(usocket_bind(a, &any), 0);
    assert_int_equal(usocket_setsockopt_int(b, USOCKET_SOL_SOCKET, USOCKET_SO_REUSEADDR, 0), 0);
    usocket_addr same = tu_loopback(tu_usock_port(a));
    assert_int_equal(usocket_bind(b, &same), -1);
    assert_oserror(UERRNO_EADDRINUSE); /* lwIP's tcp_bind: both pcbs need SOF_REUSEADDR */
    usocket_release(a);
    usocket_release(b);
}

/* UDP sockets bind implicitly (sendto): the port they get is shareable as on the device. */
static void test_udp_implicit_bind_is_reusable(void **state)
{
    (void)state;
    int port;
    int peer = tu_udp_peer(&port);
    usocket *a = tu_udp(), *b = tu_udp();
    usocket_addr to = tu_loopback(port);
    assert_int_equal(usocket_sendto(a, "x", 1, &to), 1);
    usocket_addr same = tu_loopback(tu_usock_port(a));
    assert_int_equal(usocket_bind(b, &same), 0);
    usocket_release(a);
    usocket_release(b);
    close(peer);
}

/* --- socket slots -------------------------------------------------------------------------- */

static void test_eleventh_socket_is_enobufs(void **state)
{
    (void)state;
    usocket *s[SLOTS];
    open_all(s, SLOTS);
    assert_null(usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_STREAM, 0));
    assert_oserror(UERRNO_ENOBUFS);
    assert_null(usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_DGRAM, 0));
    assert_oserror(UERRNO_ENOBUFS);
    /* A closed socket gives its slot back at once, though the object lives on. */
    assert_int_equal(usocket_close(s[4]), 0);
    usocket *again = tu_udp();
    usocket_release(again);
    release_all(s, SLOTS);
}

static void test_accept_without_a_slot_is_enfile_and_resets_the_peer(void **state)
{
    (void)state;
    int port;
    usocket *l = tu_usock_listener(2, &port);
    usocket *s[SLOTS - 1];
    open_all(s, SLOTS - 1);
    int client = tu_connect(port);
    assert_true(tu_usock_ready(l, POLLIN, 5000));
    assert_null(usocket_accept(l, NULL));
    assert_oserror(UERRNO_ENFILE);
    /* The connection was taken off the queue and aborted: the peer sees a reset. */
    char b;
    assert_true(tu_readable(client, 5000));
    assert_int_equal(read(client, &b, 1), -1);
    assert_int_equal(errno, ECONNRESET);
    close(client);
    /* With a slot free, accept works again. */
    usocket_release(s[0]);
    client = tu_connect(port);
    usocket *child = usocket_accept(l, NULL);
    assert_non_null(child);
    usocket_release(child);
    close(client);
    release_all(s + 1, SLOTS - 2);
    usocket_release(l);
}

static void test_raised_limit_allows_2000_sockets(void **state)
{
    (void)state;
    enum { MANY = 2000 };
    tu_raise_fd_limit();
    assert_int_equal(upy_config_limit(UPY_LIMIT_MAX_SOCKETS, MANY), 0);
    static usocket *s[MANY];
    open_all(s, MANY);
    int lowest = usocket_fileno(s[0]), highest = lowest;
    for (int i = 1; i < MANY; i++) {
        int fd = usocket_fileno(s[i]);
        lowest = fd < lowest ? fd : lowest;
        highest = fd > highest ? fd : highest;
    }
    assert_int_equal(lowest, FILENO_BASE);
    assert_int_equal(highest, FILENO_BASE + MANY - 1);
    assert_null(usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_STREAM, 0));
    assert_oserror(UERRNO_ENOBUFS);
    release_all(s, MANY);
}

static void test_fileno_stays_in_range_after_the_limit_is_restored(void **state)
{
    (void)state;
    /* The slots made while the limit was 2000 are not the board's: 54..63 again. */
    usocket *s[SLOTS];
    for (int round = 0; round < 3; round++) {
        open_all(s, SLOTS);
        for (int i = 0; i < SLOTS; i++) {
            assert_true(usocket_fileno(s[i]) >= FILENO_BASE);
            assert_true(usocket_fileno(s[i]) < FILENO_BASE + SLOTS);
        }
        assert_null(usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_STREAM, 0));
        assert_oserror(UERRNO_ENOBUFS);
        release_all(s, SLOTS);
    }
    /* Raised again: the parked slots come back, and only up to the new limit. */
    enum { MORE = 3 * SLOTS };
    usocket *m[MORE];
    assert_int_equal(upy_config_limit(UPY_LIMIT_MAX_SOCKETS, MORE), 0);
    open_all(m, MORE);
    bool seen[MORE] = {false};
    for (int i = 0; i < MORE; i++) {
        int slot = usocket_fileno(m[i]) - FILENO_BASE;
        assert_true(slot >= 0 && slot < MORE);
        assert_false(seen[slot]);
        seen[slot] = true;
    }
    assert_null(usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_STREAM, 0));
    assert_oserror(UERRNO_ENOBUFS);
    release_all(m, MORE);
    assert_int_equal(upy_config_profile("pycom-1.20.2"), 0);
}

/* --- fileno -------------------------------------------------------------------------------- */

static void test_fileno_range_and_oldest_free_rotation(void **state)
{
    (void)state;
    usocket *s[SLOTS];
    open_all(s, SLOTS);
    bool seen[SLOTS] = {false};
    int lowest = -1, highest = -1;
    for (int i = 0; i < SLOTS; i++) {
        int fd = usocket_fileno(s[i]);
        assert_true(fd >= FILENO_BASE && fd < FILENO_BASE + SLOTS);
        assert_false(seen[fd - FILENO_BASE]);
        seen[fd - FILENO_BASE] = true;
        if (fd == FILENO_BASE)
            lowest = i;
        if (fd == FILENO_BASE + SLOTS - 1)
            highest = i;
    }
    /* Free 63, then 54: lwIP hands out the slot freed first, not the lowest. */
    assert_int_equal(usocket_close(s[highest]), 0);
    assert_int_equal(usocket_close(s[lowest]), 0);
    assert_int_equal(usocket_fileno(s[highest]), -1);
    assert_int_equal(usocket_fileno(s[lowest]), -1);
    usocket *first = tu_tcp(), *second = tu_tcp();
    assert_int_equal(usocket_fileno(first), FILENO_BASE + SLOTS - 1);
    assert_int_equal(usocket_fileno(second), FILENO_BASE);
    usocket_release(first);
    usocket_release(second);
    release_all(s, SLOTS);
}

static void test_fileno_after_close_is_minus_one(void **state)
{
    (void)state;
    usocket *s = tu_udp();
    assert_true(usocket_fileno(s) >= FILENO_BASE);
    assert_int_equal(usocket_close(s), 0);
    assert_int_equal(usocket_fileno(s), -1);
    usocket_release(s);
}

/* --- close, release ------------------------------------------------------------------------ */

/* A binding hangs its own object on each handle; a wrapped socket has its own (not tested here:
 * test_ussl), and a closed socket keeps it until released. */
static void test_each_handle_carries_its_own_user_pointer(void **state)
{
    (void)state;
    static int mine, other;
    usocket *a = tu_tcp(), *b = tu_udp();
    assert_null(usocket_get_data(a));
    assert_int_equal(usocket_set_data(a, &mine), 0);
    assert_int_equal(usocket_set_data(b, &other), 0);
    usocket_close(a);
    assert_ptr_equal(usocket_get_data(a), &mine);
    assert_ptr_equal(usocket_get_data(b), &other);
    assert_int_equal(usocket_set_data(NULL, &mine), -1);
    assert_exc_msg(UPY_EXC_TYPEERROR, "expected a socket, got NULL");
    assert_null(usocket_get_data(NULL));
    usocket_release(a);
    usocket_release(b);
}

static void test_close_is_idempotent(void **state)
{
    tu_conn *t = *state;
    usocket *s = t->s;
    int peer = t->peer;
    assert_int_equal(usocket_close(s), 0);
    assert_int_equal(usocket_close(s), 0);
    assert_int_equal(usocket_close(s), 0);
    char b;
    assert_true(tu_readable(peer, 5000));
    assert_int_equal(read(peer, &b, 1), 0); /* one FIN */
}

static void test_io_after_close_is_ebadf(void **state)
{
    usocket *s = ((tu_conn *)*state)->s;
    assert_int_equal(usocket_close(s), 0);
    usocket_addr a = tu_loopback(tu_closed_port());
    char b[8];
    assert_int_equal(usocket_send(s, "x", 1), -1);
    assert_oserror(UERRNO_EBADF);
    assert_int_equal(usocket_recv(s, b, sizeof b), -1);
    assert_oserror(UERRNO_EBADF);
    assert_int_equal(usocket_connect(s, &a), -1);
    assert_oserror(UERRNO_EBADF);
    assert_int_equal(usocket_bind(s, &a), -1);
    assert_oserror(UERRNO_EBADF);
    assert_int_equal(usocket_listen(s, 1), -1);
    assert_oserror(UERRNO_EBADF);
    assert_null(usocket_accept(s, NULL));
    assert_oserror(UERRNO_EBADF);
    assert_int_equal(usocket_sendto(s, "x", 1, &a), -1);
    assert_oserror(UERRNO_EBADF);
    assert_int_equal(usocket_recvfrom(s, b, sizeof b, NULL), -1);
    assert_oserror(UERRNO_EBADF);
    assert_int_equal(usocket_setsockopt_int(s, USOCKET_SOL_SOCKET, USOCKET_SO_REUSEADDR, 1), -1);
    assert_oserror(UERRNO_EBADF);
    assert_int_equal(usocket_settimeout(s, 1.0), -1);
    assert_oserror(UERRNO_EBADF);
    assert_int_equal(usocket_setblocking(s, false), -1);
    assert_oserror(UERRNO_EBADF);
    assert_int_equal(usocket_read(s, b, sizeof b), -1);
    assert_oserror(UERRNO_EBADF);
    assert_int_equal(usocket_write(s, "x", 1), -1);
    assert_oserror(UERRNO_EBADF);
    /* makefile() checks nothing on the device: it hands back the object. */
    assert_ptr_equal(usocket_makefile(s, "rb"), s);
}

/* A call refused on a closed socket leaves the fd number alone: by then it may be another file's
 * (the lowest free number is reused at once). */
static void test_calls_after_close_leave_a_reused_fd_alone(void **state)
{
    (void)state;
    usocket *s = tu_tcp();
    assert_int_equal(usocket_close(s), 0);
    int p[2];
    assert_int_equal(pipe(p), 0); /* takes the number the socket had, or a lower one */
    char b[4];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(usocket_recv(s, b, sizeof b), -1);
        assert_oserror(UERRNO_EBADF);
        assert_int_equal(usocket_setblocking(s, false), -1);
        assert_oserror(UERRNO_EBADF);
    }
    assert_int_equal(usocket_close(s), 0);
    assert_int_equal(write(p[1], "ok", 2), 2);
    assert_int_equal(read(p[0], b, sizeof b), 2);
    close(p[0]);
    close(p[1]);
    usocket_release(s);
}

static void test_release_without_close_closes(void **state)
{
    (void)state;
    int peer;
    usocket *s = tu_usock_connected(&peer);
    usocket_release(s); /* the object goes away: its finaliser is close() */
    char b;
    assert_true(tu_readable(peer, 5000));
    assert_int_equal(read(peer, &b, 1), 0);
    close(peer);
}

static void test_release_closes_with_the_last_reference(void **state)
{
    (void)state;
    int peer;
    usocket *s = tu_usock_connected(&peer);
    assert_ptr_equal(usocket_ref(s), s);
    usocket_release(s);
    assert_int_equal(usocket_send(s, "x", 1), 1); /* still open: one reference left */
    char b;
    assert_int_equal(tu_read_exact(peer, &b, 1, 5000), 1);
    usocket_release(s);
    assert_true(tu_readable(peer, 5000));
    assert_int_equal(read(peer, &b, 1), 0);
    close(peer);
}

static void test_null_and_foreign_handles_are_typeerror(void **state)
{
    (void)state;
    _Alignas(max_align_t) unsigned char junk[256] = {0};
    usocket *handles[] = {NULL, (usocket *)junk};
    usocket_addr a = tu_loopback(1);
    char b[4];
    for (size_t i = 0; i < sizeof handles / sizeof handles[0]; i++) {
        usocket *h = handles[i];
        assert_int_equal(usocket_close(h), -1);
        assert_int_equal(upy_exc_current()->type, UPY_EXC_TYPEERROR);
        assert_int_equal(usocket_bind(h, &a), -1);
        assert_int_equal(upy_exc_current()->type, UPY_EXC_TYPEERROR);
        assert_int_equal(usocket_listen(h, 1), -1);
        assert_int_equal(upy_exc_current()->type, UPY_EXC_TYPEERROR);
        assert_null(usocket_accept(h, NULL));
        assert_int_equal(upy_exc_current()->type, UPY_EXC_TYPEERROR);
        assert_int_equal(usocket_connect(h, &a), -1);
        assert_int_equal(upy_exc_current()->type, UPY_EXC_TYPEERROR);
        assert_int_equal(usocket_send(h, "x", 1), -1);
        assert_int_equal(upy_exc_current()->type, UPY_EXC_TYPEERROR);
        assert_int_equal(usocket_recv(h, b, sizeof b), -1);
        assert_int_equal(upy_exc_current()->type, UPY_EXC_TYPEERROR);
        assert_int_equal(usocket_sendto(h, "x", 1, &a), -1);
        assert_int_equal(upy_exc_current()->type, UPY_EXC_TYPEERROR);
        assert_int_equal(usocket_recvfrom(h, b, sizeof b, NULL), -1);
        assert_int_equal(upy_exc_current()->type, UPY_EXC_TYPEERROR);
        assert_int_equal(usocket_setsockopt_int(h, USOCKET_SOL_SOCKET, USOCKET_SO_REUSEADDR, 1), -1);
        assert_int_equal(upy_exc_current()->type, UPY_EXC_TYPEERROR);
        assert_int_equal(usocket_settimeout(h, 1.0), -1);
        assert_int_equal(upy_exc_current()->type, UPY_EXC_TYPEERROR);
        assert_int_equal(usocket_setblocking(h, true), -1);
        assert_int_equal(upy_exc_current()->type, UPY_EXC_TYPEERROR);
        assert_null(usocket_makefile(h, "rb"));
        assert_int_equal(upy_exc_current()->type, UPY_EXC_TYPEERROR);
        assert_int_equal(usocket_fileno(h), -1);
        assert_int_equal(upy_exc_current()->type, UPY_EXC_TYPEERROR);
        assert_int_equal(usocket_read(h, b, sizeof b), -1);
        assert_int_equal(upy_exc_current()->type, UPY_EXC_TYPEERROR);
        assert_int_equal(usocket_readline(h, b, sizeof b), -1);
        assert_int_equal(upy_exc_current()->type, UPY_EXC_TYPEERROR);
        assert_int_equal(usocket_write(h, "x", 1), -1);
        assert_int_equal(upy_exc_current()->type, UPY_EXC_TYPEERROR);
        upy_exc_clear();
        assert_ptr_equal(usocket_ref(h), h); /* no reference taken */
        assert_int_equal(upy_exc_current()->type, UPY_EXC_TYPEERROR);
        usocket_release(h); /* ignored */
    }
    usocket_release(NULL);
    assert_int_equal(usocket_close(NULL), -1);
    assert_exc_msg(UPY_EXC_TYPEERROR, "expected a socket, got NULL");
    assert_int_equal(usocket_close((usocket *)junk), -1);
    assert_exc_msg(UPY_EXC_TYPEERROR, "object is not a socket");
    assert_int_equal(memcmp(junk, (unsigned char[sizeof junk]){0}, sizeof junk), 0); /* untouched */
}

int main(void)
{
    tu_clear_upysock_env(); /* the board's defaults, whatever the caller exported */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_socket_inet_stream_and_dgram, tu_restore_profile),
        cmocka_unit_test_teardown(test_socket_proto_is_derived_from_type, tu_restore_profile),
        cmocka_unit_test_teardown(test_socket_lora_and_sigfox_have_no_card, tu_restore_profile),
        cmocka_unit_test_teardown(test_socket_other_family_is_incorrect_type, tu_restore_profile),
        cmocka_unit_test_teardown(test_socket_unknown_type_is_einval, tu_restore_profile),
        cmocka_unit_test_teardown(test_reuseaddr_is_on_by_default, tu_restore_profile),
        cmocka_unit_test_teardown(test_reuseaddr_turned_off_is_kept_at_bind, tu_restore_profile),
        cmocka_unit_test_teardown(test_udp_implicit_bind_is_reusable, tu_restore_profile),
        cmocka_unit_test_teardown(test_eleventh_socket_is_enobufs, tu_restore_profile),
        cmocka_unit_test_teardown(test_accept_without_a_slot_is_enfile_and_resets_the_peer, tu_restore_profile),
        cmocka_unit_test_teardown(test_fileno_range_and_oldest_free_rotation, tu_restore_profile),
        cmocka_unit_test_teardown(test_fileno_after_close_is_minus_one, tu_restore_profile),
        TU_CONN_TEST(test_close_is_idempotent),
        TU_CONN_TEST(test_io_after_close_is_ebadf),
        cmocka_unit_test(test_calls_after_close_leave_a_reused_fd_alone),
        cmocka_unit_test_teardown(test_release_without_close_closes, tu_restore_profile),
        cmocka_unit_test_teardown(test_release_closes_with_the_last_reference, tu_restore_profile),
        cmocka_unit_test_teardown(test_null_and_foreign_handles_are_typeerror, tu_restore_profile),
        cmocka_unit_test(test_each_handle_carries_its_own_user_pointer),
        cmocka_unit_test_teardown(test_raised_limit_allows_2000_sockets, tu_restore_profile),
        cmocka_unit_test_teardown(test_fileno_stays_in_range_after_the_limit_is_restored, tu_restore_profile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
