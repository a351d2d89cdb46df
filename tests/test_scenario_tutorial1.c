/*
 * Tutorial 1 ("a server with blocking sockets") end to end: examples/tutorial_server, unchanged,
 * with its hard-coded ("192.168.0.249", 6543) remapped to a free loopback port, served to raw
 * kernel clients and to examples/tutorial_server_peer. The tests are the steps of one run, in
 * order: the server numbers its clients 0, 1, 2, ...
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define RECEIVED "Received: b'Data to send'\n"
#define BOUND_MS 5000

static tu_proc server;
static bool server_stopped;
static int port;

static int start_server(void **state)
{
    (void)state;
    char *argv[] = {(char *)tu_example("tutorial_server"), NULL};
    char *env[] = {"UPYSOCK_REMAP=*:6543=127.0.0.1:0", "UPYSOCK_LOG=fd:3", NULL};
    tu_proc_start(&server, argv, env);
    port = tu_proc_listen_port(&server, BOUND_MS);
    return port > 0 ? 0 : -1;
}

static int stop_server(void **state)
{
    (void)state;
    if (server.pid > 0 && !server_stopped)
        tu_proc_stop(&server, SIGKILL, BOUND_MS);
    return 0;
}

/* One tutorial client over a raw kernel socket: send, then read the answer until the close. */
static int client_connect_and_send(void)
{
    int fd = tu_connect(port);
    assert_int_equal(write(fd, "Data to send", 12), 12);
    return fd;
}

static int client_answer(int fd)
{
    char reply[32];
    ssize_t n = tu_read_to_eof(fd, reply, sizeof reply, BOUND_MS);
    close(fd);
    if (n <= 0)
        fail_msg("no answer before the server closed (read %zd)", n);
    char *end;
    long number = strtol(reply, &end, 10);
    if (*end)
        fail_msg("answer '%s' is not a number", reply);
    return (int)number;
}

static void test_server_listens_on_the_remapped_port(void **state)
{
    (void)state;
    char expect[160];
    snprintf(expect, sizeof expect,
             "upysock: bind 192.168.0.249:6543 -> 127.0.0.1:0\n"
             "upysock: listen 192.168.0.249:6543 -> 127.0.0.1:%d\n", port);
    assert_string_equal(server.log, expect);
}

static void test_sequential_clients_get_0_1_2(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++)
        assert_int_equal(client_answer(client_connect_and_send()), i);
}

static void test_concurrent_clients_get_distinct_3_to_7(void **state)
{
    (void)state;
    int fds[5];
    for (int i = 0; i < 5; i++)
        fds[i] = client_connect_and_send();
    bool seen[8] = {false};
    for (int i = 0; i < 5; i++) {
        int n = client_answer(fds[i]);
        assert_in_range(n, 3, 7);
        assert_false(seen[n]);
        seen[n] = true;
    }
}

static void test_server_printed_each_message_once(void **state)
{
    (void)state;
    assert_int_equal(tu_proc_wait_count(&server, RECEIVED, 8, false, BOUND_MS), 8);
    char expect[8 * sizeof RECEIVED] = "";
    for (int i = 0; i < 8; i++)
        strcat(expect, RECEIVED);
    assert_string_equal(server.out, expect);
}

static tu_proc peer;

static void run_peer(char *const args[])
{
    char remap[64];
    snprintf(remap, sizeof remap, "UPYSOCK_REMAP=*:6543=127.0.0.1:%d", port);
    char *argv[4] = {(char *)tu_example("tutorial_server_peer")};
    for (int i = 0; args[i]; i++)
        argv[i + 1] = args[i];
    assert_int_equal(tu_run(&peer, argv, (char *const[]){remap, NULL}, 10000), 0);
}

/* The example peer goes through the same virtual LAN to ("192.168.0.249", 6543). */
static void test_example_peer_gets_the_next_numbers(void **state)
{
    (void)state;
    run_peer((char *const[]){"3", NULL});
    assert_string_equal(peer.out, "Data received: b'8'\n"
                                  "Data received: b'9'\n"
                                  "Data received: b'10'\n");
    run_peer((char *const[]){"-c", "2", NULL});
    assert_int_equal(tu_count(peer.out, "Data received: "), 2);
    assert_int_equal(tu_count(peer.out, "Data received: b'11'\n"), 1);
    assert_int_equal(tu_count(peer.out, "Data received: b'12'\n"), 1);
    assert_int_equal(tu_proc_wait_count(&server, RECEIVED, 13, false, BOUND_MS), 13);
}

static void test_sigterm_stops_the_server(void **state)
{
    (void)state;
    server_stopped = true;
    assert_true(tu_proc_stop(&server, SIGTERM, BOUND_MS));
    assert_true(WIFSIGNALED(server.status));
    assert_int_equal(WTERMSIG(server.status), SIGTERM);
    assert_int_equal(tu_count(server.out, RECEIVED), 13);
    assert_int_equal(strlen(server.out), 13 * strlen(RECEIVED)); /* nothing else, no error */
}

int main(void)
{
    tu_clear_upysock_env();
    const struct CMUnitTest steps[] = {
        cmocka_unit_test(test_server_listens_on_the_remapped_port),
        cmocka_unit_test(test_sequential_clients_get_0_1_2),
        cmocka_unit_test(test_concurrent_clients_get_distinct_3_to_7),
        cmocka_unit_test(test_server_printed_each_message_once),
        cmocka_unit_test(test_example_peer_gets_the_next_numbers),
        cmocka_unit_test(test_sigterm_stops_the_server),
    };
    return cmocka_run_group_tests(steps, start_server, stop_server);
}
