/*
 * Hostile peers: a TLS peer that sends garbage, half a record, an alert, a reset or nothing at
 * all, in the handshake and after it, against our client and our server, in blocking, timed and
 * non-blocking modes; and close() from another thread during each call that blocks. Every case
 * asserts what the board raises (docs/ssl.md, SEMANTICS §5.4, §5.5, §13; mbedTLS 2.16's codes).
 *
 * "Blocked" is seen, never slept for: tu_bg_blocked watches the calling thread's kernel state.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "tlspeer.h"
#include <upysock/uerrno.h>
#include <upysock/uselect.h>
#include <upysock/ussl.h>

#define JOIN_MS 10000
#define TIMED_S 5.0       /* the timed mode's timeout: never reached unless the peer stalls */
#define STALL_TIMED_S 0.2 /* the timed mode against a peer that stalls */

/* The mbedTLS 2.16 codes the board raises here, by shorter names. */
#define CONN_EOF UERRNO_MBEDTLS_ERR_SSL_CONN_EOF               /* FIN inside a record or handshake */
#define CONN_RESET UERRNO_MBEDTLS_ERR_NET_CONN_RESET
#define FATAL_ALERT UERRNO_MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE
#define INVALID_RECORD UERRNO_MBEDTLS_ERR_SSL_INVALID_RECORD   /* -29184: not a TLS record */
#define INVALID_MAC UERRNO_MBEDTLS_ERR_SSL_INVALID_MAC         /* a record that does not decrypt */
#define BAD_HS_CLIENT_HELLO UERRNO_MBEDTLS_ERR_SSL_BAD_HS_CLIENT_HELLO

/* How the program under attack uses its socket. */
enum mode { BLOCKING, TIMED, NONBLOCKING };
static const char *const mode_names[] = {"blocking", "timed", "non-blocking"};

static int setup(void **state)
{
    (void)state;
    assert_int_equal(upy_config_profile("pycom-1.20.2"), 0);
    assert_int_equal(upy_config_flash(UPYSOCK_TEST_FLASH), 0);
    return 0;
}

static const ussl_options server_side = {
    .server_side = true, .certfile = "/flash/cert/server.pem", .keyfile = "/flash/cert/server.key"};

/* --- close() from another thread ------------------------------------------------------------- */

/* The call in bg blocks; close(s) from here wakes it with OSError(9), the header's rule for every
 * woken call (include/upysock/usocket.h). Joins the call. */
static void assert_close_wakes(tu_bg *bg, usocket *s, const char *what)
{
    bool blocked = tu_bg_blocked(bg, JOIN_MS);
    assert_int_equal(usocket_close(s), 0);
    if (!tu_bg_wait(bg, JOIN_MS))
        fail_msg("%s: still blocked after close()", what);
    if (!blocked)
        fail_msg("%s: returned before close(): %s", what, tu_exc_text());
    assert_int_equal(bg->result, -1);
    assert_oserror(UERRNO_EBADF);
}

static void set_mode(usocket *s, enum mode mode, double timeout_s)
{
    if (mode == TIMED)
        assert_int_equal(usocket_settimeout(s, timeout_s), 0);
    if (mode == NONBLOCKING)
        assert_int_equal(usocket_setblocking(s, false), 0);
}

static ssize_t bg_connect(tu_bg *bg)
{
    usocket_addr to = tu_loopback((int)(intptr_t)bg->arg);
    return usocket_connect(bg->s, &to);
}

static ssize_t bg_handshake(tu_bg *bg)
{
    return ussl_do_handshake(bg->s);
}

static ssize_t bg_wrap(tu_bg *bg)
{
    bg->accepted = ussl_wrap_socket(bg->s, bg->arg);
    return bg->accepted ? 0 : -1;
}

static void test_close_wakes_recv_and_accept(void **state)
{
    (void)state;
    for (enum mode mode = BLOCKING; mode <= TIMED; mode++) {
        int peer;
        usocket *s = tu_usock_connected(&peer);
        set_mode(s, mode, TIMED_S);
        char b[8];
        tu_bg bg;
        tu_bg_recv(&bg, s, b, sizeof b);
        assert_close_wakes(&bg, s, "recv");
        usocket_release(s);
        close(peer);

        int port;
        usocket *l = tu_usock_listener(2, &port);
        set_mode(l, mode, TIMED_S);
        tu_bg_accept(&bg, l);
        assert_close_wakes(&bg, l, "accept");
        assert_null(bg.accepted);
        usocket_release(l);
    }
}

static void test_close_wakes_connect(void **state)
{
    (void)state;
    for (enum mode mode = BLOCKING; mode <= TIMED; mode++) {
        int port, filler, listener = tu_blackhole(&port, &filler);
        usocket *s = tu_tcp();
        set_mode(s, mode, TIMED_S);
        tu_bg bg = {.s = s, .arg = (void *)(intptr_t)port};
        tu_bg_start(&bg, bg_connect);
        assert_close_wakes(&bg, s, mode_names[mode]);
        usocket_release(s);
        close(filler);
        close(listener);
    }
}

/* A poll in another thread over two sockets. */
struct polling {
    uselect_poller *poller;
    uselect_event events[2];
};

static ssize_t bg_poll(tu_bg *bg)
{
    struct polling *p = bg->arg;
    return uselect_poll_poll(p->poller, JOIN_MS, 0, p->events, 2);
}

static void test_close_during_poll_is_never_reported(void **state)
{
    (void)state;
    int closed_peer, other_peer;
    usocket *closed = tu_usock_connected(&closed_peer), *other = tu_usock_connected(&other_peer);
    struct polling p = {.poller = uselect_poll()};
    assert_int_equal(uselect_poll_register(p.poller, closed, USELECT_POLLIN | USELECT_POLLHUP), 0);
    assert_int_equal(uselect_poll_register(p.poller, other, USELECT_POLLIN), 0);
    tu_bg bg = {.arg = &p};
    tu_bg_start(&bg, bg_poll);
    assert_true(tu_bg_blocked(&bg, JOIN_MS));
    /* The device's poll skips a socket closed through the API (no POLLNVAL, no error) and keeps
     * waiting: only the other socket's data ends it. */
    assert_int_equal(usocket_close(closed), 0);
    assert_int_equal(write(other_peer, "x", 1), 1);
    assert_true(tu_bg_wait(&bg, JOIN_MS));
    assert_int_equal(bg.result, 1);
    assert_ptr_equal(p.events[0].obj, other);
    assert_int_equal(p.events[0].revents, USELECT_POLLIN);
    uselect_poll_free(p.poller);
    usocket_release(closed);
    usocket_release(other);
    close(closed_peer);
    close(other_peer);
}

/* close() during a blocking send: test_close_aborts_a_blocked_send_with_enotconn
 * (test_usocket_tcp.c), beside the send rules it follows. */

/* --- our client's handshake ------------------------------------------------------------------- */

/* Wrap and connect in `mode`; the non-blocking mode's connect is the device's EINPROGRESS (a
 * plain socket made non-blocking before wrapping, §5.3), and its handshake is do_handshake's. */
static void client_start(tu_tls_pair *p, int port, enum mode mode)
{
    p->plain = tu_tcp();
    if (mode == NONBLOCKING)
        assert_int_equal(usocket_setblocking(p->plain, false), 0);
    p->ssl = ussl_wrap_socket(p->plain, NULL);
    assert_non_null(p->ssl);
    if (mode == TIMED)
        assert_int_equal(usocket_settimeout(p->ssl, TIMED_S), 0);
    if (mode == NONBLOCKING) {
        usocket_addr to = tu_loopback(port);
        assert_int_equal(usocket_connect(p->ssl, &to), -1);
        assert_oserror(UERRNO_EINPROGRESS);
        assert_true(tu_usock_ready(p->plain, POLLOUT, JOIN_MS)); /* the TCP connect is up */
    }
}

/* The client's handshake, in the mode's call: connect, or do_handshake. */
static ssize_t (*const client_call[])(tu_bg *) = {bg_connect, bg_connect, bg_handshake};

static const struct {
    enum tu_tls_start start;
    int code;
} client_cases[] = {
    /* mbedTLS's record header check: an unknown record type. */
    {TU_TLS_RAW_GARBAGE, INVALID_RECORD},
    /* ssl_fetch_input reads 0 bytes inside the record. */
    {TU_TLS_RAW_TRUNCATED, CONN_EOF},
    {TU_TLS_RAW_FIN, CONN_EOF},
    {TU_TLS_RAW_ALERT, FATAL_ALERT},
    {TU_TLS_RAW_RST, CONN_RESET},
};

static void test_client_handshake_against_hostile_servers(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof client_cases / sizeof client_cases[0]; i++) {
        for (enum mode mode = BLOCKING; mode <= NONBLOCKING; mode++) {
            tu_tls_script sc = {.start = client_cases[i].start};
            int port;
            tu_tls_peer *peer = tu_tls_peer_start(&sc, &port);
            tu_tls_pair p;
            client_start(&p, port, mode);
            tu_bg bg = {.s = p.ssl, .arg = (void *)(intptr_t)port};
            tu_bg_start(&bg, client_call[mode]);
            assert_true(tu_bg_wait(&bg, JOIN_MS));
            if (bg.result != -1 || upy_exc_current()->code != client_cases[i].code)
                fail_msg("case %zu, %s: %zd, %s", i, mode_names[mode], bg.result, tu_exc_text());
            /* A TLS failure in the timed connect closes the socket (the firmware's helper task);
             * the other paths leave it open (§5.4). */
            assert_int_equal(usocket_fileno(p.ssl) == -1, mode == TIMED);
            tu_tls_pair_release(&p);
            assert_true(tu_tls_peer_join(peer, NULL, JOIN_MS));
        }
    }
}

static void test_client_handshake_against_a_silent_server(void **state)
{
    (void)state;
    /* r6 has no read timeout in a handshake unless settimeout was called on the SSL socket
     * after the connect (test_ussl covers that): in every mode it waits until closed. */
    for (enum mode mode = BLOCKING; mode <= NONBLOCKING; mode++) {
        tu_tls_script sc = {.start = TU_TLS_SILENT};
        int port;
        tu_tls_peer *peer = tu_tls_peer_start(&sc, &port);
        tu_tls_pair p;
        client_start(&p, port, mode);
        tu_bg bg = {.s = p.ssl, .arg = (void *)(intptr_t)port};
        tu_bg_start(&bg, client_call[mode]);
        assert_close_wakes(&bg, p.ssl, mode_names[mode]);
        tu_tls_pair_release(&p);
        assert_true(tu_tls_peer_join(peer, NULL, JOIN_MS));
    }
}

static void test_tutorial_era_nonblocking_handshake_against_hostile_servers(void **state)
{
    (void)state;
    /* 1.20.0: setblocking(False) on the SSL socket makes it non-blocking, connect raises
     * EINPROGRESS and do_handshake drives the handshake; a hostile server ends it as on r6. */
    assert_int_equal(upy_config_profile("pycom-1.20.0"), 0);
    for (size_t i = 0; i < sizeof client_cases / sizeof client_cases[0]; i++) {
        tu_tls_script sc = {.start = client_cases[i].start};
        int port;
        tu_tls_peer *peer = tu_tls_peer_start(&sc, &port);
        tu_tls_pair p = {.plain = tu_tcp()};
        p.ssl = ussl_wrap_socket(p.plain, NULL);
        assert_non_null(p.ssl);
        assert_int_equal(usocket_setblocking(p.ssl, false), 0);
        usocket_addr to = tu_loopback(port);
        assert_int_equal(usocket_connect(p.ssl, &to), -1);
        assert_oserror(UERRNO_EINPROGRESS);
        assert_true(tu_usock_ready(p.plain, POLLOUT, JOIN_MS));
        assert_int_equal(ussl_do_handshake(p.ssl), -1);
        if (upy_exc_current()->code != client_cases[i].code)
            fail_msg("case %zu: %s", i, tu_exc_text());
        tu_tls_pair_release(&p);
        assert_true(tu_tls_peer_join(peer, NULL, JOIN_MS));
    }
}

/* --- our server's handshake (in wrap_socket: the accepted socket is connected) ------------------ */

/* A hostile client connected to our listener; the accepted socket, in `mode`. */
static usocket *server_accept(const tu_tls_script *sc, enum mode mode, tu_tls_peer **peer, usocket **listener)
{
    int port;
    *listener = tu_usock_listener(2, &port);
    *peer = tu_tls_peer_start(sc, &port);
    usocket *s = usocket_accept(*listener, NULL);
    assert_non_null(s);
    set_mode(s, mode, TIMED_S);
    return s;
}

static void test_server_handshake_against_hostile_clients(void **state)
{
    (void)state;
    static const struct {
        enum tu_tls_start start;
        int code;
    } cases[] = {
        /* ssl_parse_client_hello: a first record that is not a handshake record, before any
         * record-layer check. */
        {TU_TLS_RAW_GARBAGE, BAD_HS_CLIENT_HELLO},
        {TU_TLS_RAW_ALERT, BAD_HS_CLIENT_HELLO},
        {TU_TLS_RAW_TRUNCATED, CONN_EOF},
        {TU_TLS_RAW_FIN, CONN_EOF},
        {TU_TLS_RAW_RST, CONN_RESET},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* The wrap-time handshake makes the socket blocking with no read timeout on r6, so the
         * three modes meet the same end. */
        for (enum mode mode = BLOCKING; mode <= NONBLOCKING; mode++) {
            tu_tls_script sc = {.client = true, .start = cases[i].start};
            tu_tls_peer *peer;
            usocket *listener, *s = server_accept(&sc, mode, &peer, &listener);
            assert_null(ussl_wrap_socket(s, &server_side));
            if (upy_exc_current()->code != cases[i].code)
                fail_msg("case %zu, %s: %s", i, mode_names[mode], tu_exc_text());
            assert_oserror(cases[i].code);
            assert_true(usocket_fileno(s) >= 0); /* a failed wrap leaves the socket open */
            usocket_release(s);
            usocket_release(listener);
            assert_true(tu_tls_peer_join(peer, NULL, JOIN_MS));
        }
    }
}

static void test_server_handshake_against_a_silent_client(void **state)
{
    (void)state;
    for (enum mode mode = BLOCKING; mode <= NONBLOCKING; mode++) {
        tu_tls_script sc = {.client = true, .start = TU_TLS_SILENT};
        tu_tls_peer *peer;
        usocket *listener, *s = server_accept(&sc, mode, &peer, &listener);
        tu_bg bg = {.s = s, .arg = (void *)&server_side};
        tu_bg_start(&bg, bg_wrap);
        assert_close_wakes(&bg, s, mode_names[mode]);
        assert_null(bg.accepted);
        usocket_release(s);
        usocket_release(listener);
        assert_true(tu_tls_peer_join(peer, NULL, JOIN_MS));
    }
}

/* --- after the handshake, either side ------------------------------------------------------- */

static const struct {
    enum tu_tls_end end;
    int code;
} data_cases[] = {
    {TU_TLS_GARBAGE_END, INVALID_RECORD},
    /* A plaintext alert after the keys changed is a record too short to decrypt:
     * ssl_decrypt_buf's length check. */
    {TU_TLS_ALERT_END, INVALID_MAC},
    {TU_TLS_TRUNCATED_END, CONN_EOF},
    {TU_TLS_FIN, CONN_EOF},
    {TU_TLS_RST, CONN_RESET},
};

/* An established SSL socket whose peer ends with `end`: our client, or our server. */
static void established(tu_tls_pair *p, bool server, enum tu_tls_end end, tu_tls_peer **peer, usocket **listener)
{
    tu_tls_script sc = {.client = server, .end = end};
    if (server) {
        p->plain = server_accept(&sc, BLOCKING, peer, listener);
        p->ssl = ussl_wrap_socket(p->plain, &server_side);
    } else {
        sc.cert = tu_cert("server.pem");
        sc.key = tu_cert("server.key");
        int port;
        *peer = tu_tls_peer_start(&sc, &port);
        *listener = NULL;
        p->plain = tu_tcp();
        p->ssl = ussl_wrap_socket(p->plain, NULL);
        usocket_addr to = tu_loopback(port);
        assert_int_equal(usocket_connect(p->ssl, &to), 0);
    }
    if (!p->ssl)
        fail_msg("handshake: %s", tu_exc_text());
}

static void finish(tu_tls_pair *p, tu_tls_peer *peer, usocket *listener)
{
    tu_tls_pair_release(p);
    usocket_release(listener);
    assert_true(tu_tls_peer_join(peer, NULL, JOIN_MS));
}

static void test_recv_from_hostile_peers(void **state)
{
    (void)state;
    for (int server = 0; server <= 1; server++) {
        for (size_t i = 0; i < sizeof data_cases / sizeof data_cases[0]; i++) {
            for (enum mode mode = BLOCKING; mode <= NONBLOCKING; mode++) {
                tu_tls_pair p;
                tu_tls_peer *peer;
                usocket *listener;
                established(&p, server, data_cases[i].end, &peer, &listener);
                set_mode(p.ssl, mode, TIMED_S);
                char buf[64];
                for (int again = 0; again < 2; again++) { /* mbedTLS keeps the failed state */
                    ssize_t n = usocket_recv(p.ssl, buf, sizeof buf);
                    if (n != -1 || upy_exc_current()->code != data_cases[i].code)
                        fail_msg("%s, case %zu, %s, recv %d: %zd, %s", server ? "server" : "client", i,
                                 mode_names[mode], again, n, tu_exc_text());
                }
                finish(&p, peer, listener);
            }
        }
    }
}

static void test_recv_from_a_stalled_peer(void **state)
{
    (void)state;
    for (int server = 0; server <= 1; server++) {
        for (enum mode mode = BLOCKING; mode <= NONBLOCKING; mode++) {
            tu_tls_pair p;
            tu_tls_peer *peer;
            usocket *listener;
            established(&p, server, TU_TLS_READ_UNTIL_CLOSE, &peer, &listener);
            set_mode(p.ssl, mode, STALL_TIMED_S);
            char buf[8];
            if (mode == TIMED) {
                uint64_t t0 = tu_now_ms();
                assert_int_equal(usocket_recv(p.ssl, buf, sizeof buf), -1);
                assert_string_equal(tu_exc_text(), "TimeoutError: timed out");
                assert_true(tu_now_ms() - t0 >= (uint64_t)(STALL_TIMED_S * 1000));
            } else {
                /* setblocking(False) on an r6 SSL socket sets a read timeout of 0: forever. */
                tu_bg bg;
                tu_bg_recv(&bg, p.ssl, buf, sizeof buf);
                assert_close_wakes(&bg, p.ssl, mode_names[mode]);
            }
            finish(&p, peer, listener);
        }
    }
}

#define T(name) cmocka_unit_test_setup(name, setup)

/* A server that answers with a fatal alert and keeps the connection open: mbedTLS is still in its
 * handshake, so the next recv or send runs it again and waits for the next record as long as the
 * read timeout lets it (firmware-notes §17). With settimeout(0.2) both raise TimeoutError; with
 * none a recv waits until close() wakes it. */
static void test_after_an_alert_the_next_call_waits_for_a_record(void **state)
{
    (void)state;
    for (enum mode mode = BLOCKING; mode <= TIMED; mode++) {
        tu_tls_script sc = {.start = TU_TLS_RAW_ALERT};
        int port;
        tu_tls_peer *peer = tu_tls_peer_start(&sc, &port);
        tu_tls_pair p;
        assert_int_equal(tu_tls_pair_connect(&p, port, NULL), -1);
        assert_oserror(FATAL_ALERT);
        char buf[8];
        if (mode == TIMED) {
            assert_int_equal(usocket_settimeout(p.ssl, STALL_TIMED_S), 0);
            assert_int_equal(usocket_recv(p.ssl, buf, sizeof buf), -1);
            assert_string_equal(tu_exc_text(), "TimeoutError: timed out");
            assert_int_equal(usocket_send(p.ssl, "ping", 4), -1);
            assert_string_equal(tu_exc_text(), "TimeoutError: timed out");
        } else {
            tu_bg bg;
            tu_bg_recv(&bg, p.ssl, buf, sizeof buf);
            assert_close_wakes(&bg, p.ssl, mode_names[mode]);
        }
        tu_tls_pair_release(&p);
        assert_true(tu_tls_peer_join(peer, NULL, JOIN_MS));
    }
}

/* A server that resets after its alert: the handshake run again reads the reset. recv raises
 * -80 (MBEDTLS_ERR_NET_CONN_RESET) and send the errno lwIP's read set (ECONNRESET, 104), each
 * time: lwIP's ERR_RST is sticky (firmware-notes §17). */
static void test_after_an_alert_and_a_reset_recv_and_send_raise_the_reset(void **state)
{
    (void)state;
    tu_tls_script sc = {.start = TU_TLS_RAW_ALERT_RST};
    int port;
    tu_tls_peer *peer = tu_tls_peer_start(&sc, &port);
    tu_tls_pair p;
    assert_int_equal(tu_tls_pair_connect(&p, port, NULL), -1);
    assert_oserror(FATAL_ALERT);
    char buf[8];
    for (int k = 0; k < 2; k++) {
        assert_int_equal(usocket_recv(p.ssl, buf, sizeof buf), -1);
        assert_oserror(CONN_RESET);
        assert_int_equal(CONN_RESET, -80);
        assert_int_equal(usocket_send(p.ssl, "ping", 4), -1);
        assert_oserror(UERRNO_ECONNRESET);
        assert_int_equal(UERRNO_ECONNRESET, 104);
    }
    tu_tls_pair_release(&p);
    assert_true(tu_tls_peer_join(peer, NULL, JOIN_MS));
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* the raw peers write with write(2) */
    tu_clear_upysock_env();
    const struct CMUnitTest tests[] = {
        T(test_close_wakes_recv_and_accept),
        T(test_close_wakes_connect),
        T(test_close_during_poll_is_never_reported),
        T(test_client_handshake_against_hostile_servers),
        T(test_client_handshake_against_a_silent_server),
        T(test_tutorial_era_nonblocking_handshake_against_hostile_servers),
        T(test_server_handshake_against_hostile_clients),
        T(test_server_handshake_against_a_silent_client),
        T(test_recv_from_hostile_peers),
        T(test_recv_from_a_stalled_peer),
        T(test_after_an_alert_the_next_call_waits_for_a_record),
        T(test_after_an_alert_and_a_reset_recv_and_send_raise_the_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
