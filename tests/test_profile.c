/* The device profile: the built-in rows, selection, limit overrides, and the UPYSOCK_PROFILE /
 * UPYSOCK_LIMITS (and every other UPYSOCK_*) error handling, which needs fresh processes. */
#include <string.h>

#include <upysock/usocket.h>

#include "testutil.h"

static int reset_profile(void **state)
{
    (void)state;
    return upy_config_profile("pycom-1.20.2");
}

/* What every 1.20.x profile shares: lwIP as ESP-IDF 3.3 builds it for Pycom. */
static void assert_pycom_sockets(const upy_profile *p)
{
    assert_int_equal(p->max_sockets, 10);
    assert_int_equal(p->fileno_base, 54);
    assert_int_equal(p->socket_exhausted_errno, 105);
    assert_int_equal(p->accept_exhausted_errno, 23);
    assert_int_equal(p->recv_cap, 2048);
    assert_int_equal(p->tcp_sndbuf, 5744);
    assert_int_equal(p->tcp_mss, 1436);
    assert_int_equal(p->accept_mbox, 6);
    assert_int_equal(p->backlog_min, 1);
    assert_int_equal(p->backlog_max, 255);
    assert_int_equal(p->poll_tls_buffered_readable, 0);
    assert_int_equal(p->tls_max_version, 0x0303);
    assert_int_equal(p->tls_handshake_timeouts, 10);
}

static void test_default_is_pycom_1_20_2(void **state)
{
    (void)state;
    const upy_profile *p = upy_profile_current();
    assert_string_equal(p->name, "pycom-1.20.2");
    assert_string_equal(p->description, "Pycom firmware 1.20.2.r6, the last stable release (default)");
    assert_pycom_sockets(p);
    assert_int_equal(p->tls_setblocking_sets_fd, 0);
    assert_int_equal(p->tls_read_timeout_ms, -1);
}

static void test_profile_names_lists_the_builtins(void **state)
{
    (void)state;
    const char *const *names = upy_profile_names();
    assert_string_equal(names[0], "pycom-1.20.2");
    assert_string_equal(names[1], "pycom-1.20.0");
    assert_null(names[2]);
}

static void test_select_pycom_1_20_0(void **state)
{
    (void)state;
    assert_int_equal(upy_config_profile("pycom-1.20.0"), 0);
    const upy_profile *p = upy_profile_current();
    assert_string_equal(p->name, "pycom-1.20.0");
    assert_string_equal(p->description, "Pycom firmware 1.20.0, the era of the socket tutorials");
    assert_pycom_sockets(p);
    assert_int_equal(p->tls_setblocking_sets_fd, 1);
    assert_int_equal(p->tls_read_timeout_ms, 1000);
}

static void test_unknown_profile_is_valueerror_naming_it(void **state)
{
    (void)state;
    assert_int_equal(upy_config_profile("bogus"), -1);
    assert_exc_msg(UPY_EXC_VALUEERROR, "unknown profile 'bogus' (known: pycom-1.20.2, pycom-1.20.0)");
    /* Names are exact: no case folding, no prefix match, no fallback. */
    assert_int_equal(upy_config_profile("PYCOM-1.20.2"), -1);
    assert_exc_msg(UPY_EXC_VALUEERROR, "unknown profile 'PYCOM-1.20.2' (known: pycom-1.20.2, pycom-1.20.0)");
    assert_int_equal(upy_config_profile(""), -1);
    assert_exc_msg(UPY_EXC_VALUEERROR, "unknown profile '' (known: pycom-1.20.2, pycom-1.20.0)");
    assert_int_equal(upy_config_profile(NULL), -1);
    assert_exc_msg(UPY_EXC_VALUEERROR, "invalid arguments");
    assert_string_equal(upy_profile_current()->name, "pycom-1.20.2");
}

static void test_limits_accept_their_ranges(void **state)
{
    (void)state;
    static const struct {
        upy_limit which;
        long value;
    } ok[] = {
        {UPY_LIMIT_MAX_SOCKETS, 1},     {UPY_LIMIT_MAX_SOCKETS, 65536}, {UPY_LIMIT_MAX_SOCKETS, 2000},
        {UPY_LIMIT_RECV_CAP, 0},        {UPY_LIMIT_RECV_CAP, 1},        {UPY_LIMIT_RECV_CAP, 1L << 20},
        {UPY_LIMIT_TCP_SNDBUF, 0},      {UPY_LIMIT_TCP_SNDBUF, 536},    {UPY_LIMIT_TCP_SNDBUF, 64L << 20},
        {UPY_LIMIT_BACKLOG_MAX, 1},     {UPY_LIMIT_BACKLOG_MAX, 65535},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(upy_config_limit(ok[i].which, ok[i].value), 0);
        const upy_profile *p = upy_profile_current();
        const int fields[] = {p->max_sockets, p->recv_cap, p->tcp_sndbuf, p->backlog_max};
        assert_int_equal(fields[ok[i].which], ok[i].value);
    }
    /* An override changes only its own field and keeps the profile's name. */
    const upy_profile *p = upy_profile_current();
    assert_string_equal(p->name, "pycom-1.20.2");
    assert_int_equal(p->max_sockets, 2000);
    assert_int_equal(p->fileno_base, 54);
    assert_int_equal(p->socket_exhausted_errno, 105);
}

static void test_limits_reject_out_of_range_values(void **state)
{
    (void)state;
    static const struct {
        upy_limit which;
        long value;
        const char *message;
    } bad[] = {
        {UPY_LIMIT_MAX_SOCKETS, 0, "max_sockets=0 is out of range (1..65536)"},
        {UPY_LIMIT_MAX_SOCKETS, 65537, "max_sockets=65537 is out of range (1..65536)"},
        {UPY_LIMIT_MAX_SOCKETS, -1, "max_sockets=-1 is out of range (1..65536)"},
        {UPY_LIMIT_RECV_CAP, -1, "recv_cap=-1 is out of range (1..1048576, or 0 for none)"},
        {UPY_LIMIT_RECV_CAP, (1L << 20) + 1, "recv_cap=1048577 is out of range (1..1048576, or 0 for none)"},
        {UPY_LIMIT_TCP_SNDBUF, 535, "tcp_sndbuf=535 is out of range (536..67108864, or 0 for none)"},
        {UPY_LIMIT_BACKLOG_MAX, 0, "backlog_max=0 is out of range (1..65535)"},
        {UPY_LIMIT_BACKLOG_MAX, 65536, "backlog_max=65536 is out of range (1..65535)"},
        /* checked as a long: truncated to int it would be 2, in range (LP64) */
        {UPY_LIMIT_MAX_SOCKETS, (1L << 32) + 2, "max_sockets=4294967298 is out of range (1..65536)"},
        {UPY_LIMIT_POLL_TLS_BUFFERED, 2, "poll_tls_buffered=2 is out of range (0..1)"},
        {UPY_LIMIT_POLL_TLS_BUFFERED, -1, "poll_tls_buffered=-1 is out of range (0..1)"},
        {UPY_LIMIT_ACCEPT_MBOX, 0, "accept_mbox=0 is out of range (1..65535)"},
        {(upy_limit)6, 1, "unknown limit 6"},
        {(upy_limit)-1, 1, "unknown limit -1"},
    };
    const upy_profile *before = upy_profile_current();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(upy_config_limit(bad[i].which, bad[i].value), -1);
        assert_exc_msg(UPY_EXC_VALUEERROR, bad[i].message);
    }
    /* A rejected value changes nothing. */
    assert_ptr_equal(upy_profile_current(), before);
}

/* The string forms a runner's options take: UPYSOCK_LIMITS's and UPYSOCK_LOG's syntax, with the
 * same messages. */
static void test_limits_and_log_take_their_variables_syntax(void **state)
{
    (void)state;
    assert_int_equal(upy_config_limits("max_sockets=20,recv_cap=0"), 0);
    assert_int_equal(upy_profile_current()->max_sockets, 20);
    assert_int_equal(upy_profile_current()->recv_cap, 0);
    assert_int_equal(upy_config_limits("max_sockets=+5"), -1);
    assert_int_equal(upy_exc_current()->type, UPY_EXC_VALUEERROR);
    assert_non_null(strstr(upy_exc_current()->message, "bad limit 'max_sockets=+5'"));
    assert_int_equal(upy_profile_current()->max_sockets, 20); /* nothing applied */
    assert_int_equal(upy_config_log_to("stderr"), 0);
    assert_int_equal(upy_config_log_to("fd:-1"), -1);
    assert_exc_msg(UPY_EXC_VALUEERROR,
                   "cannot log to 'fd:-1' (want stderr, fd:N with an open fd, or a writable path)");
    assert_int_equal(upy_config_log(-1), 0);
}

static void test_profile_change_drops_overrides(void **state)
{
    (void)state;
    assert_int_equal(upy_config_limit(UPY_LIMIT_MAX_SOCKETS, 2000), 0);
    assert_int_equal(upy_config_limit(UPY_LIMIT_RECV_CAP, 0), 0);
    assert_int_equal(upy_config_profile("pycom-1.20.0"), 0);
    assert_int_equal(upy_profile_current()->max_sockets, 10);
    assert_int_equal(upy_profile_current()->recv_cap, 2048);
    /* Reselecting the active profile is a change too. */
    assert_int_equal(upy_config_limit(UPY_LIMIT_BACKLOG_MAX, 5), 0);
    assert_int_equal(upy_config_profile("pycom-1.20.0"), 0);
    assert_int_equal(upy_profile_current()->backlog_max, 255);
    /* A failed selection keeps the overrides. */
    assert_int_equal(upy_config_limit(UPY_LIMIT_BACKLOG_MAX, 5), 0);
    assert_int_equal(upy_config_profile("bogus"), -1);
    assert_int_equal(upy_profile_current()->backlog_max, 5);
}

static void test_returned_pointers_stay_valid_after_changes(void **state)
{
    (void)state;
    const upy_profile *builtin = upy_profile_current();
    assert_int_equal(upy_config_limit(UPY_LIMIT_MAX_SOCKETS, 100), 0);
    const upy_profile *first = upy_profile_current();
    assert_int_equal(upy_config_limit(UPY_LIMIT_MAX_SOCKETS, 200), 0);
    const upy_profile *second = upy_profile_current();
    assert_int_equal(upy_config_profile("pycom-1.20.0"), 0);
    assert_int_equal(upy_config_limit(UPY_LIMIT_MAX_SOCKETS, 300), 0);
    /* Each pointer still shows the snapshot it was taken from (ASan checks the reads too). */
    assert_ptr_not_equal(first, second);
    assert_int_equal(builtin->max_sockets, 10);
    assert_int_equal(first->max_sockets, 100);
    assert_int_equal(second->max_sockets, 200);
    assert_string_equal(second->name, "pycom-1.20.2");
    assert_int_equal(upy_profile_current()->max_sockets, 300);
    assert_string_equal(upy_profile_current()->name, "pycom-1.20.0");
}

/* The profile is data that the socket calls read: a lower max_sockets is the board running out
 * of lwIP sockets, ENOBUFS from socket(). */
static void test_max_sockets_limits_socket(void **state)
{
    (void)state;
    assert_int_equal(upy_config_limit(UPY_LIMIT_MAX_SOCKETS, 2), 0);
    usocket *a = usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_STREAM, USOCKET_IPPROTO_TCP);
    usocket *b = usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_DGRAM, USOCKET_IPPROTO_UDP);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(usocket_fileno(a), 54);
    assert_int_equal(usocket_fileno(b), 55);
    assert_null(usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_STREAM, USOCKET_IPPROTO_TCP));
    assert_oserror(105);
    assert_string_equal(tu_exc_text(), "OSError: [Errno 105] ENOBUFS");
    usocket_release(a);
    usocket_release(b);
}

/* --- the environment: one fresh process per case (tests/env_probe.c) --------------------- */

static tu_proc proc;

/* Runs env_probe with `env` and the steps, and returns what it printed. */
static const char *probe(char *const env[], char *const steps[])
{
    char *argv[16] = {(char *)tu_test_bin("env_probe")};
    for (int i = 0; steps[i]; i++)
        argv[i + 1] = steps[i];
    assert_int_equal(tu_run(&proc, argv, env, 10000), 0);
    return proc.out;
}

#define ENV(...) ((char *const[]){__VA_ARGS__, NULL})
#define STEPS(...) ((char *const[]){__VA_ARGS__, NULL})

static void test_env_bad_profile_fails_first_socket_call_until_fixed(void **state)
{
    (void)state;
    assert_string_equal(
        probe(ENV("UPYSOCK_PROFILE=bogus"), STEPS("check", "socket", "profile", "profile=pycom-1.20.0", "check",
                                                  "socket", "profile")),
        "check: ValueError: UPYSOCK_PROFILE: unknown profile 'bogus' (known: pycom-1.20.2, pycom-1.20.0)\n"
        "socket: ValueError: UPYSOCK_PROFILE: unknown profile 'bogus' (known: pycom-1.20.2, pycom-1.20.0)\n"
        "profile: pycom-1.20.2 max_sockets=10 recv_cap=2048 tcp_sndbuf=5744 backlog_max=255 "
        "tls_setblocking_sets_fd=0 tls_read_timeout_ms=-1\n"
        "profile=pycom-1.20.0: ok\n"
        "check: ok\n"
        "socket: ok\n"
        "profile: pycom-1.20.0 max_sockets=10 recv_cap=2048 tcp_sndbuf=5744 backlog_max=255 "
        "tls_setblocking_sets_fd=1 tls_read_timeout_ms=1000\n");
}

static void test_env_bad_limits_fail_until_a_limit_or_profile_is_set(void **state)
{
    (void)state;
    assert_string_equal(
        probe(ENV("UPYSOCK_LIMITS=max_sockets=x"), STEPS("socket", "max_sockets=20", "socket")),
        "socket: ValueError: UPYSOCK_LIMITS: bad limit 'max_sockets=x' (want name=number; names: max_sockets, "
        "recv_cap, tcp_sndbuf, backlog_max, poll_tls_buffered, accept_mbox)\n"
        "max_sockets=20: ok\n"
        "socket: ok\n");
    assert_string_equal(probe(ENV("UPYSOCK_LIMITS=max_sockets=0"), STEPS("check", "profile=pycom-1.20.2", "check")),
                        "check: ValueError: UPYSOCK_LIMITS: max_sockets=0 is out of range (1..65536)\n"
                        "profile=pycom-1.20.2: ok\n"
                        "check: ok\n");
    /* Every item is checked before any applies. */
    assert_string_equal(
        probe(ENV("UPYSOCK_LIMITS=max_sockets=2000,rcv_cap=1"), STEPS("check", "profile")),
        "check: ValueError: UPYSOCK_LIMITS: bad limit 'rcv_cap=1' (want name=number; names: max_sockets, "
        "recv_cap, tcp_sndbuf, backlog_max, poll_tls_buffered, accept_mbox)\n"
        "profile: pycom-1.20.2 max_sockets=10 recv_cap=2048 tcp_sndbuf=5744 backlog_max=255 "
        "tls_setblocking_sets_fd=0 tls_read_timeout_ms=-1\n");
}

/* A number is plain decimal digits, as a port in UPYSOCK_REMAP is (limits, log fd, trace data count): strtol's sign and spaces are
 * malformed, not read. */
static void test_env_limits_log_fd_and_trace_data_are_plain_digits(void **state)
{
    (void)state;
    const char *bad[] = {"max_sockets=+5", "max_sockets= 5", "recv_cap=-0", "backlog_max=5 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char env[64], want[256];
        snprintf(env, sizeof env, "UPYSOCK_LIMITS=%s", bad[i]);
        snprintf(want, sizeof want,
                 "check: ValueError: UPYSOCK_LIMITS: bad limit '%s' (want name=number; names: max_sockets, "
                 "recv_cap, tcp_sndbuf, backlog_max, poll_tls_buffered, accept_mbox)\n", bad[i]);
        assert_string_equal(probe(ENV(env), STEPS("check")), want);
    }
    assert_string_equal(probe(ENV("UPYSOCK_LOG=fd:+2"), STEPS("check")),
                        "check: ValueError: UPYSOCK_LOG: cannot log to 'fd:+2' (want stderr, fd:N with an open "
                        "fd, or a writable path)\n");
    const char *counts[] = {" 5", "+5", "5 ", "-0", "04096x", "4097", ""};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        char env[64], want[128];
        snprintf(env, sizeof env, "UPYSOCK_TRACE_DATA=%s", counts[i]);
        snprintf(want, sizeof want, "check: ValueError: UPYSOCK_TRACE_DATA: a byte count 0..4096 expected, "
                 "not '%s'\n", counts[i]);
        assert_string_equal(probe(ENV(env), STEPS("check")), want);
    }
}

static void test_env_bad_remap_net_log_flash_name_their_variable(void **state)
{
    (void)state;
    assert_string_equal(probe(ENV("UPYSOCK_REMAP=garbage"), STEPS("socket", "check", "remap=", "socket")),
                        "socket: ValueError: UPYSOCK_REMAP: bad rule 'garbage' (want ADDR[:PORT]=IP[:PORT], "
                        "ADDR a dotted quad, * or a hostname)\n"
                        "check: ValueError: UPYSOCK_REMAP: bad rule 'garbage' (want ADDR[:PORT]=IP[:PORT], "
                        "ADDR a dotted quad, * or a hostname)\n"
                        "remap=: ok\n"
                        "socket: ok\n");
    assert_string_equal(probe(ENV("UPYSOCK_NET=wat"), STEPS("socket", "net=sandbox", "socket")),
                        "socket: ValueError: UPYSOCK_NET: unknown mode 'wat' (want sandbox or host)\n"
                        "net=sandbox: ok\n"
                        "socket: ok\n");
    assert_string_equal(probe(ENV("UPYSOCK_LOG=fd:99"), STEPS("socket", "log=-1", "socket")),
                        "socket: ValueError: UPYSOCK_LOG: cannot log to 'fd:99' (want stderr, fd:N with an open "
                        "fd, or a writable path)\n"
                        "log=-1: ok\n"
                        "socket: ok\n");
    assert_string_equal(probe(ENV("UPYSOCK_FLASH="), STEPS("socket", "flash=/tmp", "socket")),
                        "socket: ValueError: UPYSOCK_FLASH: flash directory must be a non-empty path\n"
                        "flash=/tmp: ok\n"
                        "socket: ok\n");
}

/* Several bad variables: reported one at a time, in a fixed order, each until it is fixed. */
static void test_env_errors_are_reported_in_turn(void **state)
{
    (void)state;
    assert_string_equal(
        probe(ENV("UPYSOCK_REMAP=garbage", "UPYSOCK_PROFILE=bogus"),
              STEPS("check", "profile=pycom-1.20.2", "check", "remap=*=127.0.0.2", "check")),
        "check: ValueError: UPYSOCK_PROFILE: unknown profile 'bogus' (known: pycom-1.20.2, pycom-1.20.0)\n"
        "profile=pycom-1.20.2: ok\n"
        "check: ValueError: UPYSOCK_REMAP: bad rule 'garbage' (want ADDR[:PORT]=IP[:PORT], ADDR a dotted "
        "quad, * or a hostname)\n"
        "remap=*=127.0.0.2: ok\n"
        "check: ok\n");
    /* A failed call keeps the variable's error. */
    assert_string_equal(probe(ENV("UPYSOCK_NET=wat"), STEPS("net=lan", "check")),
                        "net=lan: ValueError: unknown mode 'lan' (want sandbox or host)\n"
                        "check: ValueError: UPYSOCK_NET: unknown mode 'wat' (want sandbox or host)\n");
}

static void test_env_profile_and_limits_apply(void **state)
{
    (void)state;
    assert_string_equal(
        probe(ENV("UPYSOCK_PROFILE=pycom-1.20.0", "UPYSOCK_LIMITS=max_sockets=2000,recv_cap=0,backlog_max=4096"),
              STEPS("check", "profile")),
        "check: ok\n"
        "profile: pycom-1.20.0 max_sockets=2000 recv_cap=0 tcp_sndbuf=5744 backlog_max=4096 "
        "tls_setblocking_sets_fd=1 tls_read_timeout_ms=1000\n");
    /* upy_profile_current() applies the environment by itself. */
    assert_string_equal(probe(ENV("UPYSOCK_LIMITS=max_sockets=2000"), STEPS("profile")),
                        "profile: pycom-1.20.2 max_sockets=2000 recv_cap=2048 tcp_sndbuf=5744 backlog_max=255 "
                        "tls_setblocking_sets_fd=0 tls_read_timeout_ms=-1\n");
}

/* The sandbox refusal tells the user to set UPYSOCK_NET=host: doing so in the environment must
 * then be enough, whatever order the variables are read in. */
static void test_env_net_host_allows_non_loopback_rules(void **state)
{
    (void)state;
    assert_string_equal(probe(ENV("UPYSOCK_REMAP=192.168.0.234=10.1.2.3", "UPYSOCK_NET=host"), STEPS("check")),
                        "check: ok\n");
    assert_string_equal(probe(ENV("UPYSOCK_REMAP=192.168.0.234=10.1.2.3"), STEPS("check")),
                        "check: ValueError: UPYSOCK_REMAP: rule 1 targets 10.1.2.3, which is not loopback (set "
                        "UPYSOCK_NET=host to reach real networks)\n");
}

int main(void)
{
    tu_clear_upysock_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_is_pycom_1_20_2),
        cmocka_unit_test(test_profile_names_lists_the_builtins),
        cmocka_unit_test_teardown(test_select_pycom_1_20_0, reset_profile),
        cmocka_unit_test_teardown(test_unknown_profile_is_valueerror_naming_it, reset_profile),
        cmocka_unit_test_teardown(test_limits_accept_their_ranges, reset_profile),
        cmocka_unit_test_teardown(test_limits_reject_out_of_range_values, reset_profile),
        cmocka_unit_test_teardown(test_limits_and_log_take_their_variables_syntax, reset_profile),
        cmocka_unit_test_teardown(test_profile_change_drops_overrides, reset_profile),
        cmocka_unit_test_teardown(test_returned_pointers_stay_valid_after_changes, reset_profile),
        cmocka_unit_test_teardown(test_max_sockets_limits_socket, reset_profile),
        cmocka_unit_test(test_env_bad_profile_fails_first_socket_call_until_fixed),
        cmocka_unit_test(test_env_bad_limits_fail_until_a_limit_or_profile_is_set),
        cmocka_unit_test(test_env_bad_remap_net_log_flash_name_their_variable),
        cmocka_unit_test(test_env_limits_log_fd_and_trace_data_are_plain_digits),
        cmocka_unit_test(test_env_errors_are_reported_in_turn),
        cmocka_unit_test(test_env_profile_and_limits_apply),
        cmocka_unit_test(test_env_net_host_allows_non_loopback_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
