/*
 * Tutorial 3 end to end: examples/tutorial_ssl_client, with the tutorial's address and /flash
 * paths, against `openssl s_server` and against examples/tls_server, under both handshake models.
 * Certificates come from the tls_certs fixture; each flash root holds the tutorial's file names.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define WAIT_MS 10000
#define FLASH(root) UPYSOCK_TEST_BIN_DIR "/" root
#define CERT(file) FLASH("flash/cert/") file

static void start_client(tu_proc *client, int port, const char *flash, const char *profile)
{
    char remap[80], flash_env[512], profile_env[64];
    snprintf(remap, sizeof remap, "UPYSOCK_REMAP=192.168.0.234:6543=127.0.0.1:%d", port);
    snprintf(flash_env, sizeof flash_env, "UPYSOCK_FLASH=%s", flash);
    snprintf(profile_env, sizeof profile_env, "UPYSOCK_PROFILE=%s", profile);
    char *argv[] = {(char *)tu_example("tutorial_ssl_client"), NULL};
    char *env[] = {remap, flash_env, profile_env, NULL};
    tu_proc_start(client, argv, env);
}

static void assert_exit(tu_proc *p, int code)
{
    assert_true(tu_proc_wait(p, WAIT_MS));
    assert_true(WIFEXITED(p->status));
    assert_int_equal(WEXITSTATUS(p->status), code);
}

/* --- against openssl s_server ----------------------------------------------------------------- */

struct s_server {
    tu_proc proc;
    int stdin_w; /* s_server ends its connection when its stdin ends: kept open until stop */
    int port;
};

static void s_server_start(struct s_server *s, bool verify_client)
{
    char *argv[] = {UPYSOCK_OPENSSL_CLI, "s_server", "-accept", "127.0.0.1:0", "-cert", CERT("server.pem"),
                    "-key", CERT("server.key"), "-CAfile", CERT("ca.pem"),
                    verify_client ? "-Verify" : NULL, "1", NULL};
    int in[2];
    assert_int_equal(pipe2(in, O_CLOEXEC), 0);
    /* The child inherits fd 0: make it the pipe just for the fork. */
    int saved = dup(0);
    assert_true(saved >= 0);
    assert_true(dup2(in[0], 0) == 0);
    tu_proc_start(&s->proc, argv, NULL);
    assert_true(dup2(saved, 0) == 0);
    close(saved);
    close(in[0]);
    s->stdin_w = in[1];
    assert_true(tu_proc_wait_output(&s->proc, "ACCEPT 127.0.0.1:", false, WAIT_MS));
    assert_true(tu_proc_wait_output(&s->proc, "\n", false, WAIT_MS));
    s->port = atoi(strstr(s->proc.out, "ACCEPT 127.0.0.1:") + strlen("ACCEPT 127.0.0.1:"));
    assert_true(s->port > 0);
}

static void s_server_stop(struct s_server *s)
{
    tu_proc_stop(&s->proc, SIGTERM, WAIT_MS);
    close(s->stdin_w);
}

/* The client connects, shakes hands, sends; it then waits for more (s_server says nothing), so
 * it is stopped before the server goes. */
static void client_sends_to_s_server(bool verify_client, const char *profile)
{
    struct s_server server;
    s_server_start(&server, verify_client);
    tu_proc client;
    start_client(&client, server.port, FLASH("flash"), profile);
    assert_true(tu_proc_wait_output(&server.proc, "Data to send", false, WAIT_MS));
    if (verify_client) /* s_server checked the tutorial's client certificate */
        assert_non_null(strstr(server.proc.out, "depth=0 CN = pycom-client\nverify return:1\n"));
    assert_non_null(strstr(server.proc.out, "CIPHER is ECDHE-ECDSA-"));
    tu_proc_stop(&client, SIGTERM, WAIT_MS);
    assert_null(strstr(client.out, "Error"));
    s_server_stop(&server);
}

static void test_client_against_s_server(void **state)
{
    (void)state;
    client_sends_to_s_server(false, "pycom-1.20.2");
}

static void test_client_against_s_server_with_client_verification(void **state)
{
    (void)state;
    client_sends_to_s_server(true, "pycom-1.20.2");
    client_sends_to_s_server(true, "pycom-1.20.0");
}

static void test_client_with_an_unrelated_ca_fails_the_handshake(void **state)
{
    (void)state;
    struct s_server server;
    s_server_start(&server, false);
    tu_proc client;
    start_client(&client, server.port, FLASH("flash-otherca"), "pycom-1.20.2");
    /* connect() raises MBEDTLS_ERR_X509_CERT_VERIFY_FAILED and the script re-raises it. */
    assert_exit(&client, 1);
    assert_string_equal(client.out, "OSError: -9984\n");
    s_server_stop(&server);
    assert_null(strstr(server.proc.out, "Data to send"));
}

static void test_client_without_its_ca_file(void **state)
{
    (void)state;
    tu_proc client;
    start_client(&client, tu_closed_port(), FLASH("flash-noca"), "pycom-1.20.2");
    assert_exit(&client, 1);
    assert_string_equal(client.out, "OSError: CA file not found\n");
}

/* --- against examples/tls_server ---------------------------------------------------------------- */

/* examples/tls_server on its device address, mapped to a free loopback port: that port. */
static int start_tls_server(tu_proc *server)
{
    char *argv[] = {(char *)tu_example("tls_server"), NULL};
    char *env[] = {"UPYSOCK_REMAP=192.168.0.234:6543=127.0.0.1:0", "UPYSOCK_LOG=fd:3",
                   "UPYSOCK_FLASH=" FLASH("flash"), NULL};
    tu_proc_start(server, argv, env);
    int port = tu_proc_listen_port(server, WAIT_MS);
    assert_true(port > 0);
    return port;
}

static void client_against_tls_server(const char *profile)
{
    tu_proc server, client;
    int port = start_tls_server(&server);

    start_client(&client, port, FLASH("flash"), profile);
    /* The echo, one byte per record and per POLLIN; then close_notify, b'', and the end. */
    assert_exit(&client, 0);
    char expected[512] = "";
    for (const char *c = "Data to send"; *c; c++)
        snprintf(expected + strlen(expected), sizeof expected - strlen(expected), "Data received: b'%c'\n", *c);
    assert_string_equal(client.out, expected);

    assert_true(tu_proc_wait_output(&server, "Received: b'Data to send'\n", false, WAIT_MS));
    assert_true(tu_proc_stop(&server, SIGTERM, WAIT_MS));
    assert_string_equal(server.out, "Received: b'Data to send'\n");
}

static void test_client_against_tls_server_r6(void **state)
{
    (void)state;
    client_against_tls_server("pycom-1.20.2");
}

static void test_client_against_tls_server_tutorial_era(void **state)
{
    (void)state;
    client_against_tls_server("pycom-1.20.0");
}

static void test_tls_server_refuses_a_client_it_cannot_verify(void **state)
{
    (void)state;
    tu_proc server, client;
    int port = start_tls_server(&server);
    /* The client trusts the wrong CA: it rejects the server (and alerts it). */
    start_client(&client, port, FLASH("flash-otherca"), "pycom-1.20.2");
    assert_exit(&client, 1);
    assert_string_equal(client.out, "OSError: -9984\n");
    /* The server's thread ends with the alert it received, printed as the board prints it. */
    assert_true(tu_proc_wait_output(&server, "OSError: [Errno -30592] MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE\n", false,
                                    WAIT_MS));
    assert_non_null(strstr(server.out, "Unhandled exception in thread started by <function client_thread"));
    assert_true(tu_proc_stop(&server, SIGTERM, WAIT_MS));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_against_s_server),
        cmocka_unit_test(test_client_against_s_server_with_client_verification),
        cmocka_unit_test(test_client_with_an_unrelated_ca_fails_the_handshake),
        cmocka_unit_test(test_client_without_its_ca_file),
        cmocka_unit_test(test_client_against_tls_server_r6),
        cmocka_unit_test(test_client_against_tls_server_tutorial_era),
        cmocka_unit_test(test_tls_server_refuses_a_client_it_cannot_verify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
