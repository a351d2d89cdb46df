/* The tutorials under faults: the example programs themselves, with UPYSOCK_FAULTS in their
 * environment, meet the failures a board meets in the field and fail the way the board does. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define WAIT_MS 10000
#define FLASH UPYSOCK_TEST_BIN_DIR "/flash"

/* A server example on its device port, mapped to a free loopback port: that port. */
static int start_server(tu_proc *server, const char *name, const char *faults)
{
    char *argv[] = {(char *)tu_example(name), NULL};
    char *env[] = {"UPYSOCK_REMAP=*:6543=127.0.0.1:0", "UPYSOCK_LOG=fd:3", "UPYSOCK_FLASH=" FLASH,
                   (char *)faults, NULL};
    tu_proc_start(server, argv, env);
    int port = tu_proc_listen_port(server, WAIT_MS);
    assert_true(port > 0);
    return port;
}

/* A client example with the tutorial's server address mapped to port, under faults, and with
 * the extra environment entry `more` ("NAME=value", or NULL). */
static void run_client_with(tu_proc *client, const char *name, int port, const char *faults, const char *more)
{
    char remap[64];
    snprintf(remap, sizeof remap, "UPYSOCK_REMAP=*:6543=127.0.0.1:%d", port);
    char *argv[] = {(char *)tu_example(name), NULL};
    char *env[] = {remap, "UPYSOCK_FLASH=" FLASH, (char *)faults, (char *)more, NULL};
    tu_proc_start(client, argv, env);
    assert_true(tu_proc_wait(client, WAIT_MS));
    assert_true(WIFEXITED(client->status));
}

static void run_client(tu_proc *client, const char *name, int port, const char *faults)
{
    run_client_with(client, name, port, faults, NULL);
}

/* What a trace (docs/observe.md) says of the sockets polled: per device fileno, how many poll
 * records reported it with HUP. It fails the test when a socket is reported without HUP once HUP
 * came (HUP not sticky), reported after its close, or closed before any HUP. */
enum { FILENOS = 64 };
struct hup_story {
    int hups[FILENOS];
    bool closed[FILENOS];
};

static int fileno_slot(long fileno)
{
    assert_true(fileno >= 54 && fileno < 54 + FILENOS);
    return (int)fileno - 54;
}

/* One poll record's "revents":[[fileno,revents],...]. */
static void read_poll_record(const char *line, struct hup_story *st)
{
    const char *p = strstr(line, "\"revents\":[");
    assert_non_null(p);
    p += strlen("\"revents\":[");
    long f, rev;
    int used;
    while (sscanf(p, "[%ld,%ld]%n", &f, &rev, &used) == 2) {
        int i = fileno_slot(f);
        if (st->closed[i])
            fail_msg("fileno %ld reported after its close: %s", f, line);
        if (st->hups[i] && !(rev & 16))
            fail_msg("fileno %ld: HUP not sticky: %s", f, line);
        st->hups[i] += (rev & 16) != 0;
        p += used + (p[used] == ',');
    }
}

static void read_trace(const char *path, struct hup_story *st)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        long fileno;
        const char *closed = strstr(line, "\"call\":\"close\"");
        if (strstr(line, "\"call\":\"poll\""))
            read_poll_record(line, st);
        else if (closed && sscanf(strstr(line, "\"fileno\":"), "\"fileno\":%ld", &fileno) == 1) {
            int i = fileno_slot(fileno);
            if (!st->hups[i])
                fail_msg("fileno %ld closed before poll reported HUP", fileno);
            st->closed[i] = true;
        }
    }
    fclose(f);
}

/* Tutorial 2: the server's connection resets after its first byte. Each socket gets that byte,
 * then poll reports HUP (sticky: the thread sees it until it closes), the thread closes both
 * sockets and the run ends. */
static void test_fault_tutorial2_client_with_server_resetting_after_one_byte(void **state)
{
    (void)state;
    tu_proc server, client;
    int port = start_server(&server, "tutorial_server", "UPYSOCK_FAULTS=");
    char trace[] = "/tmp/upysock-fault-trace-XXXXXX", trace_env[64];
    close(mkstemp(trace));
    snprintf(trace_env, sizeof trace_env, "UPYSOCK_TRACE=%s", trace);
    run_client_with(&client, "tutorial_client", port, "UPYSOCK_FAULTS=reset *:6543 after=1 dir=recv", trace_env);
    assert_int_equal(WEXITSTATUS(client.status), 0);
    assert_int_equal(tu_count(client.out, "Data received: "), 2);
    /* The trace: each of the two sockets (54, 55) polled with HUP, sticky, until the thread
     * closed it; nothing reported after. (The tutorial closes at the first HUP, so each is
     * reported once; test_fault_effects polls a reset socket again to show HUP stays.) */
    struct hup_story st = {0};
    read_trace(trace, &st);
    unlink(trace);
    for (int i = 0; i < 2; i++) {
        assert_true(st.hups[i] >= 1);
        assert_true(st.closed[i]);
    }
    /* Reset before any byte: no data, only HUP, and the run still ends. */
    run_client(&client, "tutorial_client", port, "UPYSOCK_FAULTS=reset *:6543 after=0 dir=recv");
    assert_int_equal(WEXITSTATUS(client.status), 0);
    assert_int_equal(tu_count(client.out, "Data received"), 0);
    assert_true(tu_proc_stop(&server, SIGTERM, WAIT_MS));
}

/* Tutorial 2 over a slow link (80 ms each way, up to 20 ms more): the same run, with the data, only
 * later. */
static void test_fault_tutorial2_client_over_a_slow_link(void **state)
{
    (void)state;
    tu_proc server, client;
    int port = start_server(&server, "tutorial_server", "UPYSOCK_FAULTS=");
    uint64_t t0 = tu_now_ms();
    run_client(&client, "tutorial_client", port, "UPYSOCK_FAULTS=delay *:6543 delay=80ms jitter=20ms");
    assert_true(tu_now_ms() - t0 >= 160); /* a request and its answer, each way at least once */
    assert_int_equal(WEXITSTATUS(client.status), 0);
    assert_int_equal(tu_count(client.out, "Data received: "), 2);
    assert_non_null(strstr(client.out, "Data received: b'0'\n"));
    assert_non_null(strstr(client.out, "Data received: b'1'\n"));
    assert_true(tu_proc_stop(&server, SIGTERM, WAIT_MS));
}

/* Tutorial 1: the first client resets in the middle of its request, after its first 5 bytes.
 * That client's thread reads those 5 bytes, then its send meets the reset: OSError(104) ends the
 * thread; the accept loop goes on and serves the next client. */
static void test_fault_tutorial1_server_with_a_client_resetting_mid_request(void **state)
{
    (void)state;
    tu_proc server;
    int port = start_server(&server, "tutorial_server", "UPYSOCK_FAULTS=reset *:6543 after=5 dir=recv nth=1");
    int first = tu_connect(port);
    assert_int_equal(write(first, "Data to send", 12), 12);
    assert_true(tu_proc_wait_output(&server, "OSError: [Errno 104] ECONNRESET\n", false, WAIT_MS));
    const char *got = strstr(server.out, "Received: b'Data '\nUnhandled exception in thread started by "
                                         "<function client_thread at ");
    assert_non_null(got);
    assert_non_null(strstr(got, ">\nOSError: [Errno 104] ECONNRESET\n"));
    char b[4];
    assert_true(tu_readable(first, WAIT_MS));
    assert_int_equal(recv(first, b, sizeof b, 0), -1); /* the client's side was reset */
    assert_int_equal(errno, ECONNRESET);
    close(first);
    int second = tu_connect(port);
    assert_int_equal(write(second, "Data to send", 12), 12);
    char reply[8];
    assert_int_equal(tu_read_to_eof(second, reply, sizeof reply, WAIT_MS), 1);
    assert_int_equal(reply[0], '1'); /* the second client of the loop */
    close(second);
    assert_true(tu_proc_wait_output(&server, "Received: b'Data to send'\n", false, WAIT_MS));
    assert_true(tu_proc_stop(&server, SIGTERM, WAIT_MS));
}

/* Tutorial 3: the server answers the ClientHello with a fatal alert: connect() raises mbedTLS's
 * code for a received alert, which the tutorial re-raises. The real server never sent it: it
 * sees the client close with its answer unread, a reset (docs/faults.md, limits). */
static void test_fault_tutorial3_tls_client_against_a_handshake_alert(void **state)
{
    (void)state;
    tu_proc server, client;
    int port = start_server(&server, "tls_server", "UPYSOCK_FAULTS=");
    run_client(&client, "tutorial_ssl_client", port, "UPYSOCK_FAULTS=tls-alert *:6543");
    assert_int_equal(WEXITSTATUS(client.status), 1);
    assert_non_null(strstr(client.out, "OSError: [Errno -30592] MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE\n"));
    assert_true(tu_proc_wait_output(&server, "OSError: [Errno -80] MBEDTLS_ERR_NET_CONN_RESET", false, WAIT_MS));
    assert_true(tu_proc_stop(&server, SIGTERM, WAIT_MS));
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault_tutorial2_client_with_server_resetting_after_one_byte),
        cmocka_unit_test(test_fault_tutorial2_client_over_a_slow_link),
        cmocka_unit_test(test_fault_tutorial1_server_with_a_client_resetting_mid_request),
        cmocka_unit_test(test_fault_tutorial3_tls_client_against_a_handshake_alert),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
