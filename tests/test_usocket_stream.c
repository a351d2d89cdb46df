/* usocket stream calls: makefile, read/readinto/readline/write loops and their None (UPY_NONE)
 * cases (SEMANTICS §3.6, §3.7, §3.12). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "upysock/uerrno.h"
#include "upysock/usocket.h"

static char pattern[5000];

static int setup_pattern(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (char)(i * 31 + 7);
    return 0;
}

static void test_makefile_returns_the_socket(void **state)
{
    (void)state;
    usocket *s = tu_tcp();
    assert_ptr_equal(usocket_makefile(s, "rb"), s);
    assert_ptr_equal(usocket_makefile(s, "wb"), s);
    assert_ptr_equal(usocket_makefile(s, NULL), s); /* makefile() without a mode */
    const char *bad[] = {"r", "w", "rwb", "", "b", "RB", "rb "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_null(usocket_makefile(s, bad[i]));
        assert_exc_msg(UPY_EXC_VALUEERROR, "invalid argument(s) value");
    }
    /* The "file" is the socket: closing one closes the other. */
    assert_int_equal(usocket_close(usocket_makefile(s, "rb")), 0);
    assert_int_equal(usocket_fileno(s), -1);
    usocket_release(s);
}

static void test_read_loops_past_the_recv_cap_until_n(void **state)
{
    tu_conn *t = *state;
    usocket *s = t->s;
    int peer = t->peer;
    assert_int_equal(write(peer, pattern, sizeof pattern), sizeof pattern);
    static char b[sizeof pattern];
    assert_int_equal(usocket_read(s, b, 4500), 4500); /* 2048 + 2048 + 404 */
    assert_int_equal(usocket_read(s, b + 4500, 400), 400);
    assert_memory_equal(b, pattern, 4900);
}

static void test_read_waits_for_every_byte(void **state)
{
    tu_conn *t = *state;
    usocket *s = t->s;
    int peer = t->peer;
    char b[6];
    assert_int_equal(write(peer, "abc", 3), 3);
    tu_bg bg;
    tu_bg_read(&bg, s, b, sizeof b);
    /* Three of six bytes: read keeps waiting (a bounded window), the rest completes it. */
    bool returned_early = tu_bg_wait(&bg, 250);
    if (!returned_early)
        assert_int_equal(write(peer, "def", 3), 3);
    assert_true(returned_early || tu_bg_wait(&bg, 5000));
    assert_false(returned_early);
    assert_int_equal(bg.result, 6);
    assert_memory_equal(b, "abcdef", 6);
}

static void test_read_stops_at_eof(void **state)
{
    tu_conn *t = *state;
    usocket *s = t->s;
    int peer = t->peer;
    assert_int_equal(write(peer, pattern, 300), 300);
    tu_conn_close_peer(t);
    char b[1000];
    assert_int_equal(usocket_read(s, b, sizeof b), 300);
    assert_memory_equal(b, pattern, 300);
    assert_int_equal(usocket_read(s, b, sizeof b), 0);
    assert_int_equal(usocket_readinto(s, b, sizeof b), 0);
    assert_int_equal(usocket_readline(s, b, sizeof b), 0);
}

static void test_nothing_to_read_nonblocking_is_none(void **state)
{
    usocket *s = ((tu_conn *)*state)->s;
    assert_int_equal(usocket_setblocking(s, false), 0);
    char b[16];
    assert_int_equal(usocket_read(s, b, sizeof b), UPY_NONE);
    assert_int_equal(usocket_readinto(s, b, sizeof b), UPY_NONE);
    assert_int_equal(usocket_readline(s, b, sizeof b), UPY_NONE);
}

static void test_nothing_to_read_before_timeout_is_none(void **state)
{
    usocket *s = ((tu_conn *)*state)->s;
    assert_int_equal(usocket_settimeout(s, 0.05), 0);
    char b[16];
    uint64_t start = tu_now_ms();
    assert_int_equal(usocket_read(s, b, sizeof b), UPY_NONE); /* not TimeoutError */
    assert_true(tu_now_ms() - start >= 45);
    assert_int_equal(usocket_readline(s, b, sizeof b), UPY_NONE);
}

static void test_partial_read_returns_the_count(void **state)
{
    tu_conn *t = *state;
    usocket *s = t->s;
    int peer = t->peer;
    char b[100];
    /* Timed: ten bytes, then the timeout ends the loop. */
    assert_int_equal(usocket_settimeout(s, 0.05), 0);
    assert_int_equal(write(peer, pattern, 10), 10);
    assert_int_equal(usocket_read(s, b, sizeof b), 10);
    assert_memory_equal(b, pattern, 10);
    /* Non-blocking: what is there, then a would-block ends it. */
    assert_int_equal(usocket_setblocking(s, false), 0);
    assert_int_equal(write(peer, pattern, 7), 7);
    assert_true(tu_usock_queued(s, 7, 5000));
    assert_int_equal(usocket_readinto(s, b, sizeof b), 7);
    assert_memory_equal(b, pattern, 7);
}

static void test_readinto_fills_the_buffer(void **state)
{
    tu_conn *t = *state;
    usocket *s = t->s;
    int peer = t->peer;
    assert_int_equal(write(peer, pattern, sizeof pattern), sizeof pattern);
    static char b[sizeof pattern];
    assert_int_equal(usocket_readinto(s, b, sizeof b), sizeof pattern);
    assert_memory_equal(b, pattern, sizeof pattern);
}

static void test_readline_stops_after_newline_limit_or_eof(void **state)
{
    tu_conn *t = *state;
    usocket *s = t->s;
    int peer = t->peer;
    const char text[] = "line one\nline two\nrest";
    assert_int_equal(write(peer, text, sizeof text - 1), sizeof text - 1);
    tu_conn_close_peer(t);
    char b[100];
    assert_int_equal(usocket_readline(s, b, sizeof b), 9);
    assert_memory_equal(b, "line one\n", 9);
    assert_int_equal(usocket_readline(s, b, 4), 4);
    assert_memory_equal(b, "line", 4);
    assert_int_equal(usocket_readline(s, b, sizeof b), 5);
    assert_memory_equal(b, " two\n", 5);
    assert_int_equal(usocket_readline(s, b, sizeof b), 4); /* EOF ends the line */
    assert_memory_equal(b, "rest", 4);
    assert_int_equal(usocket_readline(s, b, sizeof b), 0);
}

static void test_readline_returns_a_partial_line_when_more_would_block(void **state)
{
    tu_conn *t = *state;
    usocket *s = t->s;
    int peer = t->peer;
    assert_int_equal(usocket_setblocking(s, false), 0);
    assert_int_equal(write(peer, "abc", 3), 3);
    assert_true(tu_usock_queued(s, 3, 5000));
    char b[100];
    assert_int_equal(usocket_readline(s, b, sizeof b), 3);
    assert_memory_equal(b, "abc", 3);
    assert_int_equal(usocket_readline(s, b, sizeof b), UPY_NONE);
    /* It reads one byte per call: what follows the newline stays queued. */
    assert_int_equal(write(peer, "x\ny", 3), 3);
    assert_true(tu_usock_queued(s, 3, 5000));
    assert_int_equal(usocket_readline(s, b, sizeof b), 2);
    assert_int_equal(usocket_recv(s, b, sizeof b), 1);
    assert_int_equal(b[0], 'y');
}

struct drain {
    int fd;
    size_t want;
    ssize_t got;
};

static void *drain_peer(void *arg)
{
    struct drain *d = arg;
    static char sink[1 << 18];
    d->got = tu_read_exact(d->fd, sink, d->want, 10000);
    return NULL;
}

static void test_write_loops_until_everything_is_written(void **state)
{
    (void)state;
    enum { LEN = 1 << 18 };
    int peer;
    usocket *s = tu_usock_connected(&peer);
    struct drain d = {peer, LEN, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, drain_peer, &d), 0);
    static char big[LEN];
    assert_int_equal(usocket_write(s, big, LEN), LEN);
    pthread_join(t, NULL);
    assert_int_equal(d.got, LEN);
    usocket_release(s);
    close(peer);
}

static void test_write_is_none_when_the_first_attempt_would_block(void **state)
{
    usocket *s = ((tu_conn *)*state)->s;
    assert_int_equal(usocket_setblocking(s, false), 0);
    static char chunk[16384];
    int sends = 0;
    while (usocket_send(s, chunk, sizeof chunk) > 0)
        assert_true(++sends < 100000);
    assert_oserror(UERRNO_EAGAIN);
    assert_int_equal(usocket_write(s, chunk, sizeof chunk), UPY_NONE);
    assert_int_equal(usocket_write(s, "x", 1), UPY_NONE);
}

static void test_timed_write_is_the_short_count_then_none(void **state)
{
    usocket *s = ((tu_conn *)*state)->s;
    assert_int_equal(usocket_settimeout(s, 0.05), 0);
    char *big = calloc(1, TU_MORE_THAN_LOOPBACK_HOLDS);
    assert_non_null(big);
    ssize_t n = usocket_write(s, big, TU_MORE_THAN_LOOPBACK_HOLDS);
    assert_true(n > 0 && n < (ssize_t)TU_MORE_THAN_LOOPBACK_HOLDS);
    /* The kernel may still find room for a little more (its buffers grow); then nothing fits. */
    for (int i = 0; i < 100 && n > 0; i++)
        n = usocket_write(s, big, TU_MORE_THAN_LOOPBACK_HOLDS);
    assert_int_equal(n, UPY_NONE);
    free(big);
}

static void test_stream_calls_raise_other_errors(void **state)
{
    tu_conn *t = *state;
    usocket *s = t->s;
    tu_conn_reset_peer(t);
    char b[8];
    assert_int_equal(usocket_read(s, b, sizeof b), -1);
    assert_oserror(UERRNO_ECONNRESET);
    assert_int_equal(usocket_readline(s, b, sizeof b), -1);
    assert_oserror(UERRNO_ECONNRESET);
    assert_int_equal(usocket_write(s, "x", 1), -1);
    assert_oserror(UERRNO_ECONNRESET);
}

int main(void)
{
    tu_clear_upysock_env(); /* the board's defaults, whatever the caller exported */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_makefile_returns_the_socket),
        TU_CONN_TEST(test_read_loops_past_the_recv_cap_until_n),
        TU_CONN_TEST(test_read_waits_for_every_byte),
        TU_CONN_TEST(test_read_stops_at_eof),
        TU_CONN_TEST(test_nothing_to_read_nonblocking_is_none),
        TU_CONN_TEST(test_nothing_to_read_before_timeout_is_none),
        TU_CONN_TEST(test_partial_read_returns_the_count),
        TU_CONN_TEST(test_readinto_fills_the_buffer),
        TU_CONN_TEST(test_readline_stops_after_newline_limit_or_eof),
        TU_CONN_TEST(test_readline_returns_a_partial_line_when_more_would_block),
        cmocka_unit_test(test_write_loops_until_everything_is_written),
        TU_CONN_TEST(test_write_is_none_when_the_first_attempt_would_block),
        TU_CONN_TEST(test_timed_write_is_the_short_count_then_none),
        TU_CONN_TEST(test_stream_calls_raise_other_errors),
    };
    return cmocka_run_group_tests(tests, setup_pattern, NULL);
}
