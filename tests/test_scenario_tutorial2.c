/* Tutorial 2 end to end: examples/tutorial_client against the tutorial server, against nothing,
 * and against a peer that resets — the programs themselves, with the tutorial's addresses. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static void start_client(tu_proc *client, int port)
{
    char remap[64];
    snprintf(remap, sizeof remap, "UPYSOCK_REMAP=*:6543=127.0.0.1:%d", port);
    char *argv[] = {(char *)tu_example("tutorial_client"), NULL};
    char *env[] = {remap, NULL};
    tu_proc_start(client, argv, env);
}

static void assert_clean_exit(tu_proc *p)
{
    assert_true(tu_proc_wait(p, 10000));
    assert_true(WIFEXITED(p->status));
    assert_int_equal(WEXITSTATUS(p->status), 0);
}

static void test_client_against_tutorial_server(void **state)
{
    (void)state;
    tu_proc server, client;
    char *server_argv[] = {(char *)tu_example("tutorial_server"), NULL};
    char *server_env[] = {"UPYSOCK_REMAP=*:6543=127.0.0.1:0", "UPYSOCK_LOG=fd:3", NULL};
    tu_proc_start(&server, server_argv, server_env);
    int port = tu_proc_listen_port(&server, 10000);
    assert_true(port > 0);

    start_client(&client, port);
    assert_clean_exit(&client);
    /* Each socket got one counter byte from the server, then EOF. */
    assert_int_equal(tu_count(client.out, "Data received: "), 2);
    assert_non_null(strstr(client.out, "Data received: b'0'\n"));
    assert_non_null(strstr(client.out, "Data received: b'1'\n"));

    assert_true(tu_proc_wait_output(&server, "Received: b'Data to send'\nReceived: b'Data to send'\n", false, 10000));
    assert_true(tu_proc_stop(&server, SIGTERM, 10000));
    assert_int_equal(tu_count(server.out, "Received: b'Data to send'\n"), 2);
}

static void test_client_with_nothing_listening_ends(void **state)
{
    (void)state;
    tu_proc client;
    /* Both connects are refused: both sockets report 21, take the HUP branch and close. */
    start_client(&client, tu_closed_port());
    assert_clean_exit(&client);
    assert_int_equal(tu_count(client.out, "Data received"), 0);
}

static void test_client_against_resetting_peer_ends(void **state)
{
    (void)state;
    int port, listener = tu_listener(&port);
    tu_proc client;
    start_client(&client, port);
    for (int i = 0; i < 2; i++) {
        int c = tu_accept(listener, 10000);
        assert_true(c >= 0);
        char buf[12];
        /* Let the client's send land first, so the reset hits a connection in use. */
        assert_int_equal(tu_read_exact(c, buf, sizeof buf, 10000), 12);
        assert_memory_equal(buf, "Data to send", 12);
        tu_reset(c);
    }
    assert_clean_exit(&client);
    assert_int_equal(tu_count(client.out, "Data received"), 0);
    close(listener);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_against_tutorial_server),
        cmocka_unit_test(test_client_with_nothing_listening_ends),
        cmocka_unit_test(test_client_against_resetting_peer_ends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
