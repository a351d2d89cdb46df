/*
 * ssl: the device's wrap_socket rules, both handshake models, and every OpenSSL → mbedTLS
 * mapping, each against a raw OpenSSL peer on loopback (tlspeer.c). Certificates come from the
 * tls_certs fixture (fixtures/make-certs.sh) in the build tree.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "host/tls.h"
#include "internal.h"
#include "testutil.h"
#include "tlspeer.h"
#include <upysock/uselect.h>
#include <upysock/ussl.h>

#define JOIN_MS 10000

static const char *const pong[] = {"pong", NULL};

static int setup(void **state)
{
    (void)state;
    assert_int_equal(upy_config_profile("pycom-1.20.2"), 0);
    assert_int_equal(upy_config_flash(UPYSOCK_TEST_FLASH), 0);
    return 0;
}

/* A server peer with the fixture's server certificate. */
static tu_tls_script server(void)
{
    return (tu_tls_script){.cert = tu_cert("server.pem"), .key = tu_cert("server.key")};
}

static const ussl_options verified = {.cert_reqs = USSL_CERT_REQUIRED, .ca_certs = "/flash/cert/ca.pem"};

static void test_module_constants_are_the_devices(void **state)
{
    (void)state;
    assert_int_equal(USSL_CERT_NONE, 0);
    assert_int_equal(USSL_CERT_OPTIONAL, 1);
    assert_int_equal(USSL_CERT_REQUIRED, 2);
    assert_int_equal(USSL_SSL_TIMEOUT, -26624);
}

/* --- wrap_socket's argument rules -------------------------------------------------------------- */

static void assert_wrap_value_error(usocket *s, const ussl_options *o)
{
    assert_null(ussl_wrap_socket(s, o));
    assert_exc_msg(UPY_EXC_VALUEERROR, "invalid argument(s) value");
}

static void test_wrap_rejects_the_devices_bad_combinations(void **state)
{
    (void)state;
    usocket *s = tu_tcp();
    assert_wrap_value_error(s, &(ussl_options){.cert_reqs = USSL_CERT_REQUIRED});
    assert_wrap_value_error(s, &(ussl_options){.cert_reqs = USSL_CERT_OPTIONAL});
    assert_wrap_value_error(s, &(ussl_options){.server_side = true});
    assert_wrap_value_error(s, &(ussl_options){.server_side = true, .keyfile = "/flash/cert/server.key"});
    assert_wrap_value_error(s, &(ussl_options){.server_side = true, .certfile = "/flash/cert/server.pem"});
    ussl_session *not_a_session = (ussl_session *)(void *)s;
    assert_wrap_value_error(s, &(ussl_options){.saved_session = not_a_session});
    assert_wrap_value_error(s, &(ussl_options){.cert_reqs = 3, .ca_certs = "/flash/cert/ca.pem"});
    assert_wrap_value_error(s, &(ussl_options){.timeout = 256});
    /* An SSL socket cannot be wrapped again. */
    usocket *ss = ussl_wrap_socket(s, NULL);
    assert_non_null(ss);
    assert_wrap_value_error(ss, NULL);
    /* Not a socket at all: the library's TypeError for bad handles. */
    assert_null(ussl_wrap_socket(NULL, NULL));
    assert_int_equal(upy_exc_current()->type, UPY_EXC_TYPEERROR);
    usocket_release(ss);
    usocket_release(s);
}

static void test_wrap_of_a_closed_socket_is_ebadf(void **state)
{
    (void)state;
    usocket *s = tu_tcp();
    usocket_close(s);
    assert_null(ussl_wrap_socket(s, NULL));
    assert_oserror(UERRNO_EBADF);
    usocket_release(s);
}

static void assert_wrap_os_message(const ussl_options *o, const char *message)
{
    usocket *s = tu_tcp();
    assert_null(ussl_wrap_socket(s, o));
    assert_exc_msg(UPY_EXC_OSERROR, message);
    /* The plain socket is untouched. */
    assert_true(usocket_fileno(s) >= 0);
    usocket_release(s);
}

static void test_missing_files_are_reported_as_the_device_words_them(void **state)
{
    (void)state;
    assert_wrap_os_message(&(ussl_options){.cert_reqs = USSL_CERT_REQUIRED, .ca_certs = "/flash/cert/nope.pem"},
                           "CA file not found");
    assert_wrap_os_message(&(ussl_options){.certfile = "/flash/cert/nope.pem", .keyfile = "/flash/cert/client.key"},
                           "certificate file not found");
    assert_wrap_os_message(&(ussl_options){.certfile = "/flash/cert/client.pem", .keyfile = "/flash/cert/nope.key"},
                           "key file not found");
    /* The CA is read first. */
    assert_wrap_os_message(&(ussl_options){.cert_reqs = USSL_CERT_OPTIONAL, .ca_certs = "/flash/cert/nope.pem",
                                           .certfile = "/flash/nope.pem", .keyfile = "/flash/nope.key"},
                           "CA file not found");
    /* A directory cannot be read as a file either. */
    assert_wrap_os_message(&(ussl_options){.cert_reqs = USSL_CERT_REQUIRED, .ca_certs = "/flash/cert"},
                           "CA file not found");

    /* Not read at all: ca_certs under CERT_NONE, a certificate without its key. */
    usocket *s = tu_tcp();
    usocket *ss = ussl_wrap_socket(s, &(ussl_options){.ca_certs = "/flash/cert/nope.pem",
                                                      .certfile = "/flash/cert/nope.pem"});
    assert_non_null(ss);
    usocket_release(ss);
    usocket_release(s);
}

static void assert_wrap_os_code(const ussl_options *o, int code)
{
    usocket *s = tu_tcp();
    assert_null(ussl_wrap_socket(s, o));
    assert_oserror(code);
    usocket_release(s);
}

static void test_unparsable_files_raise_mbedtls_codes(void **state)
{
    (void)state;
    assert_wrap_os_code(&(ussl_options){.cert_reqs = USSL_CERT_REQUIRED, .ca_certs = "/flash/cert/garbage.pem"},
                        UERRNO_MBEDTLS_ERR_X509_INVALID_FORMAT);
    assert_wrap_os_code(&(ussl_options){.certfile = "/flash/cert/garbage.pem", .keyfile = "/flash/cert/client.key"},
                        UERRNO_MBEDTLS_ERR_X509_INVALID_FORMAT);
    assert_wrap_os_code(&(ussl_options){.certfile = "/flash/cert/client.pem", .keyfile = "/flash/cert/garbage.pem"},
                        UERRNO_MBEDTLS_ERR_PK_KEY_INVALID_FORMAT);
    assert_wrap_os_code(&(ussl_options){.certfile = "/flash/cert/client.pem", .keyfile = "/flash/cert/encrypted.key"},
                        UERRNO_MBEDTLS_ERR_PK_PASSWORD_REQUIRED);
    assert_wrap_os_code(&(ussl_options){.certfile = "/flash/cert/client.pem", .keyfile = "/flash/cert/server.key"},
                        UERRNO_MBEDTLS_ERR_PK_TYPE_MISMATCH);
    assert_string_equal(tu_exc_text(), "OSError: [Errno -16128] MBEDTLS_ERR_PK_TYPE_MISMATCH");
}

static void test_der_files_do_not_parse(void **state)
{
    (void)state;
    /* The firmware hands mbedTLS strlen(file) + 1 bytes: DER is cut at its first zero byte. */
    assert_wrap_os_code(&(ussl_options){.cert_reqs = USSL_CERT_REQUIRED, .ca_certs = "/flash/cert/ca.der"},
                        UERRNO_MBEDTLS_ERR_X509_INVALID_FORMAT);
    assert_wrap_os_code(&(ussl_options){.certfile = "/flash/cert/client.der", .keyfile = "/flash/cert/client.key"},
                        UERRNO_MBEDTLS_ERR_X509_INVALID_FORMAT);
    assert_wrap_os_code(&(ussl_options){.certfile = "/flash/cert/client.pem", .keyfile = "/flash/cert/client.key.der"},
                        UERRNO_MBEDTLS_ERR_PK_KEY_INVALID_FORMAT);
}

static void test_paths_outside_flash_are_plain_files(void **state)
{
    (void)state;
    /* Absolute host paths, and paths relative to the working directory (the test's build dir). */
    char relative[] = "flash/cert/ca.pem";
    assert_true(access(relative, R_OK) == 0);
    const char *paths[] = {tu_cert("ca.pem"), relative};
    for (size_t i = 0; i < 2; i++) {
        usocket *s = tu_tcp();
        usocket *ss = ussl_wrap_socket(s, &(ussl_options){.cert_reqs = USSL_CERT_REQUIRED, .ca_certs = paths[i]});
        assert_non_null(ss);
        usocket_release(ss);
        usocket_release(s);
    }
}

/* --- handshakes and their results -------------------------------------------------------------- */

static void test_client_handshake_runs_in_connect(void **state)
{
    (void)state;
    tu_tls_script sc = server();
    sc.read_first = true;
    sc.replies = pong;
    sc.end = TU_TLS_CLOSE_NOTIFY;
    tu_tls_pair p;
    tu_tls_peer *peer = tu_tls_pair_connected(&p, &sc, &verified);
    assert_int_equal(ussl_do_handshake(p.ssl), 0); /* over already: returns at once */
    assert_int_equal(usocket_send_str(p.ssl, "ping"), 4);
    char buf[16];
    assert_int_equal(usocket_recv(p.ssl, buf, sizeof buf), 4);
    assert_memory_equal(buf, "pong", 4);
    assert_int_equal(usocket_recv(p.ssl, buf, sizeof buf), 0); /* close_notify → b'' */
    assert_int_equal(usocket_recv(p.ssl, buf, sizeof buf), 0);
    tu_tls_report r;
    assert_true(tu_tls_peer_join(peer, &r, JOIN_MS));
    assert_true(r.handshake_ok);
    assert_int_equal(r.version, TLS1_2_VERSION);
    assert_string_equal(r.sni, ""); /* no server_hostname, no SNI */
    assert_int_equal(r.received_len, 4);
    tu_tls_pair_release(&p);
}

static void test_a_connected_socket_shakes_hands_in_wrap(void **state)
{
    (void)state;
    tu_tls_script sc = server();
    sc.replies = pong;
    int port;
    tu_tls_peer *peer = tu_tls_peer_start(&sc, &port);
    usocket *s = tu_tcp();
    usocket_addr to = tu_loopback(port);
    assert_int_equal(usocket_connect(s, &to), 0);
    usocket *ss = ussl_wrap_socket(s, &verified);
    assert_non_null(ss);
    /* The handshake is over: the reply is there to read, and connecting again is EISCONN. */
    char buf[8];
    assert_int_equal(usocket_recv(ss, buf, sizeof buf), 4);
    assert_int_equal(usocket_connect(ss, &to), -1);
    assert_oserror(UERRNO_EISCONN);
    tu_tls_report r;
    assert_true(tu_tls_peer_join(peer, &r, JOIN_MS));
    assert_true(r.handshake_ok);
    usocket_release(ss);
    usocket_release(s);
}

/* Connect a client with o to a server presenting `cert`; returns connect's result. */
static int handshake_against(const char *cert, const ussl_options *o, tu_tls_report *r)
{
    tu_tls_script sc = {.cert = tu_cert(cert), .key = tu_cert("server.key")};
    int port;
    tu_tls_peer *peer = tu_tls_peer_start(&sc, &port);
    tu_tls_pair p;
    int rc = tu_tls_pair_connect(&p, port, o);
    upy_exc e = *upy_exc_current();
    tu_tls_pair_release(&p);
    assert_true(tu_tls_peer_join(peer, r, JOIN_MS));
    upy_raise(e.type, e.code, e.has_code ? NULL : e.message);
    return rc;
}

static void test_untrusted_chain(void **state)
{
    (void)state;
    tu_tls_report r;
    const char *other = "/flash/cert/other_ca.pem";
    /* CERT_REQUIRED: the handshake fails (MBEDTLS_ERR_X509_CERT_VERIFY_FAILED). */
    assert_int_equal(handshake_against("server.pem", &(ussl_options){.cert_reqs = USSL_CERT_REQUIRED, .ca_certs = other}, &r), -1);
    assert_oserror(-9984);
    assert_string_equal(tu_exc_text(), "OSError: -9984");
    assert_false(r.handshake_ok);
    /* CERT_OPTIONAL: the handshake completes, then the flag word: 8 = not trusted. */
    assert_int_equal(handshake_against("server.pem", &(ussl_options){.cert_reqs = USSL_CERT_OPTIONAL, .ca_certs = other}, &r), -1);
    assert_oserror(8);
    assert_true(r.handshake_ok);
    /* CERT_NONE: nothing is checked. */
    assert_int_equal(handshake_against("server.pem", &(ussl_options){.ca_certs = other}, &r), 0);
}

static void test_ssl_version_is_accepted_and_ignored(void **state)
{
    (void)state;
    tu_tls_report r;
    const int versions[] = {0, 2, 3, 5, 17, -1}; /* CPython's PROTOCOL_* numbers, and nonsense */
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        ussl_options o = verified;
        o.ssl_version = versions[i];
        assert_int_equal(handshake_against("server.pem", &o, &r), 0);
        assert_int_equal(r.version, TLS1_2_VERSION);
    }
}

static void test_blocking_connect_keeps_the_socket_open_when_tls_fails(void **state)
{
    (void)state;
    const double timeouts[] = {USOCKET_TIMEOUT_NONE, 0.0}; /* 0 on an SSL socket still blocks (r6) */
    for (size_t i = 0; i < 2; i++) {
        int port;
        tu_tls_script sc = server();
        tu_tls_peer *peer = tu_tls_peer_start(&sc, &port);
        tu_tls_pair p;
        tu_tls_pair_wrap(&p, &(ussl_options){.cert_reqs = USSL_CERT_REQUIRED, .ca_certs = "/flash/cert/other_ca.pem"});
        assert_int_equal(usocket_settimeout(p.ssl, timeouts[i]), 0);
        usocket_addr to = tu_loopback(port);
        assert_int_equal(usocket_connect(p.ssl, &to), -1);
        assert_oserror(-9984);
        assert_true(usocket_fileno(p.ssl) >= 54); /* unlike the timed path */
        tu_tls_pair_release(&p);
        assert_true(tu_tls_peer_join(peer, NULL, JOIN_MS));
    }
}

static void test_wrapping_a_connected_socket_raises_minus_1_when_optional_checks_fail(void **state)
{
    (void)state;
    tu_tls_script sc = server();
    int port;
    tu_tls_peer *peer = tu_tls_peer_start(&sc, &port);
    usocket *s = tu_tcp();
    usocket_addr to = tu_loopback(port);
    assert_int_equal(usocket_connect(s, &to), 0);
    /* connect() would raise the flag word (8); the wrap-time check raises -1. */
    assert_null(ussl_wrap_socket(s, &(ussl_options){.cert_reqs = USSL_CERT_OPTIONAL,
                                                    .ca_certs = "/flash/cert/other_ca.pem"}));
    assert_oserror(-1);
    usocket_release(s);
    tu_tls_report r;
    assert_true(tu_tls_peer_join(peer, &r, JOIN_MS));
    assert_true(r.handshake_ok);
}

static void test_optional_flags_are_rechecked_by_do_handshake(void **state)
{
    (void)state;
    int port;
    tu_tls_script sc = server();
    tu_tls_peer *peer = tu_tls_peer_start(&sc, &port);
    tu_tls_pair p;
    assert_int_equal(tu_tls_pair_connect(&p, port, &(ussl_options){.cert_reqs = USSL_CERT_OPTIONAL,
                                                            .ca_certs = "/flash/cert/other_ca.pem"}), -1);
    assert_oserror(8);
    assert_int_equal(ussl_do_handshake(p.ssl), -1);
    assert_oserror(8);
    tu_tls_pair_release(&p);
    assert_true(tu_tls_peer_join(peer, NULL, JOIN_MS));
}

static void test_hostname_is_checked_only_when_given(void **state)
{
    (void)state;
    tu_tls_report r;
    ussl_options o = verified;
    /* No server_hostname: any name the CA signed passes (device behaviour). */
    assert_int_equal(handshake_against("server.pem", &o, &r), 0);
    o.server_hostname = "localhost";
    assert_int_equal(handshake_against("server.pem", &o, &r), 0);
    assert_string_equal(r.sni, "localhost");
    o.server_hostname = "wrong.example";
    assert_int_equal(handshake_against("server.pem", &o, &r), -1);
    assert_oserror(-9984);
    o.cert_reqs = USSL_CERT_OPTIONAL;
    assert_int_equal(handshake_against("server.pem", &o, &r), -1);
    assert_oserror(4); /* MBEDTLS_X509_BADCERT_CN_MISMATCH */
    /* Names are DNS names, as in mbedTLS 2.16: the certificate's IP address SAN does not count. */
    o.server_hostname = "127.0.0.1";
    assert_int_equal(handshake_against("server.pem", &o, &r), -1);
    assert_oserror(4);
}

/* mbedtls_ssl_set_hostname takes "" (and checks the certificate against it: nothing matches)
 * and refuses a name over 255 bytes with MBEDTLS_ERR_SSL_BAD_INPUT_DATA, before any handshake. */
static void test_hostname_empty_or_too_long(void **state)
{
    (void)state;
    tu_tls_report r;
    ussl_options o = verified;
    o.server_hostname = "";
    assert_int_equal(handshake_against("server.pem", &o, &r), -1);
    assert_oserror(-9984);
    o.cert_reqs = USSL_CERT_OPTIONAL;
    assert_int_equal(handshake_against("server.pem", &o, &r), -1);
    assert_oserror(4); /* MBEDTLS_X509_BADCERT_CN_MISMATCH */
    o.cert_reqs = USSL_CERT_NONE;
    assert_int_equal(handshake_against("server.pem", &o, &r), 0);
    assert_string_equal(r.sni, "");
    char name[257];
    memset(name, 'a', 256);
    name[256] = '\0';
    o = verified;
    o.server_hostname = name;
    usocket *plain = tu_tcp();
    assert_null(ussl_wrap_socket(plain, &o));
    assert_oserror(-28928);
    usocket_release(plain);
    name[255] = '\0'; /* 255 bytes: taken, and it is simply the wrong name */
    assert_int_equal(handshake_against("server.pem", &o, &r), -1);
    assert_oserror(-9984);
}

static void test_expired_certificate(void **state)
{
    (void)state;
    tu_tls_report r;
    ussl_options o = verified;
    assert_int_equal(handshake_against("expired.pem", &o, &r), -1);
    assert_oserror(-9984);
    o.cert_reqs = USSL_CERT_OPTIONAL;
    assert_int_equal(handshake_against("expired.pem", &o, &r), -1);
    assert_oserror(1); /* MBEDTLS_X509_BADCERT_EXPIRED */
    o.server_hostname = "wrong.example";
    assert_int_equal(handshake_against("expired.pem", &o, &r), -1);
    assert_oserror(1 | 4);
}

static void test_fatal_alert_received(void **state)
{
    (void)state;
    /* The server wants a client certificate we do not have: its alert ends our handshake. */
    tu_tls_script sc = server();
    sc.ca = tu_cert("ca.pem");
    int port;
    tu_tls_peer *peer = tu_tls_peer_start(&sc, &port);
    tu_tls_pair p;
    assert_int_equal(tu_tls_pair_connect(&p, port, &verified), -1);
    assert_oserror(-30592);
    assert_string_equal(tu_exc_text(), "OSError: [Errno -30592] MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE");
    /* The TCP connection stays (the device does not close on this path). */
    assert_true(usocket_fileno(p.ssl) >= 0);
    tu_tls_pair_release(&p);
    tu_tls_report r;
    assert_true(tu_tls_peer_join(peer, &r, JOIN_MS));
    assert_false(r.handshake_ok);
}

static void test_eof_and_reset_during_the_handshake(void **state)
{
    (void)state;
    static const struct {
        enum tu_tls_start start;
        int code;
    } cases[] = {{TU_TLS_RAW_FIN, -29312}, {TU_TLS_RAW_RST, -80}};
    for (size_t i = 0; i < 2; i++) {
        tu_tls_script sc = {.start = cases[i].start};
        int port;
        tu_tls_peer *peer = tu_tls_peer_start(&sc, &port);
        tu_tls_pair p;
        assert_int_equal(tu_tls_pair_connect(&p, port, NULL), -1);
        assert_oserror(cases[i].code);
        tu_tls_pair_release(&p);
        assert_true(tu_tls_peer_join(peer, NULL, JOIN_MS));
    }
}

/* --- I/O after the handshake ------------------------------------------------------------------- */

static void test_recv_ends(void **state)
{
    (void)state;
    static const struct {
        enum tu_tls_end end;
        int code; /* 0: b'' */
    } cases[] = {{TU_TLS_CLOSE_NOTIFY, 0}, {TU_TLS_FIN, -29312}, {TU_TLS_RST, -80}};
    for (size_t i = 0; i < 3; i++) {
        tu_tls_script sc = server();
        sc.read_first = true;
        sc.end = cases[i].end;
        int port;
        tu_tls_peer *peer = tu_tls_peer_start(&sc, &port);
        tu_tls_pair p;
        assert_int_equal(tu_tls_pair_connect(&p, port, NULL), 0);
        uselect_poller *poller = uselect_poll();
        assert_int_equal(uselect_poll_register(poller, p.ssl, USELECT_POLLIN), 0);
        assert_int_equal(usocket_send_str(p.ssl, "ping"), 4);
        char buf[8];
        for (int again = 0; again < 2; again++) { /* the same answer every time */
            ssize_t n = usocket_recv(p.ssl, buf, sizeof buf);
            if (cases[i].code) {
                assert_int_equal(n, -1);
                assert_oserror(cases[i].code);
            } else {
                assert_int_equal(n, 0);
            }
        }
        /* Readable afterwards? After a bare FIN mbedTLS has read it, so lwIP's rcvevent is 0:
         * no (and tutorial 3's thread, which swallows -29312, waits quietly instead of spinning).
         * After close_notify only the alert was read and the FIN still waits: yes. A reset is
         * lwIP's sticky errevent: yes. */
        uselect_event ev[1];
        assert_int_equal(uselect_poll_poll(poller, 20, 0, ev, 1), cases[i].end == TU_TLS_FIN ? 0 : 1);
        uselect_poll_free(poller);
        if (cases[i].end == TU_TLS_RST) {
            /* A send reports the lwIP errno of the failed write, not an mbedTLS code. */
            assert_int_equal(usocket_send_str(p.ssl, "again"), -1);
            assert_oserror(UERRNO_ECONNRESET);
        }
        tu_tls_pair_release(&p);
        assert_true(tu_tls_peer_join(peer, NULL, JOIN_MS));
    }
}

static void test_recv_returns_one_record_at_a_time(void **state)
{
    (void)state;
    static const char *const records[] = {"abc", "defg", NULL};
    tu_tls_script sc = server();
    sc.replies = records;
    sc.end = TU_TLS_READ_UNTIL_CLOSE;
    tu_tls_pair p;
    tu_tls_peer *peer = tu_tls_pair_connected(&p, &sc, NULL);
    char buf[100];
    assert_int_equal(usocket_recv(p.ssl, buf, sizeof buf), 3);
    assert_int_equal(usocket_recv(p.ssl, buf, sizeof buf), 4);
    assert_memory_equal(buf, "defg", 4);
    assert_int_equal(usocket_close(p.ssl), 0);
    tu_tls_report r;
    assert_true(tu_tls_peer_join(peer, &r, JOIN_MS));
    assert_true(r.got_close_notify); /* close() sent close_notify */
    tu_tls_pair_release(&p);
}

static void test_recv_returns_a_whole_record_past_2048(void **state)
{
    (void)state;
    static char record[5001];
    memset(record, 'r', sizeof record - 1);
    const char *const records[] = {record, NULL};
    tu_tls_script sc = server();
    sc.replies = records;
    sc.end = TU_TLS_READ_UNTIL_CLOSE;
    tu_tls_pair p;
    tu_tls_peer *peer = tu_tls_pair_connected(&p, &sc, NULL);
    static char buf[8192];
    assert_int_equal(usocket_recv(p.ssl, buf, sizeof buf), 5000); /* plain sockets stop at 2048 */
    assert_memory_equal(buf, record, 5000);
    tu_tls_pair_release(&p);
    assert_true(tu_tls_peer_join(peer, NULL, JOIN_MS));
}

static void test_stream_calls_raise_mbedtls_codes(void **state)
{
    (void)state;
    static const struct {
        enum tu_tls_end end;
        int code;
    } cases[] = {{TU_TLS_FIN, -29312}, {TU_TLS_RST, -80}};
    for (size_t i = 0; i < 2; i++) {
        tu_tls_script sc = server();
        sc.end = cases[i].end;
        tu_tls_pair p;
        tu_tls_peer *peer = tu_tls_pair_connected(&p, &sc, NULL);
        assert_true(tu_tls_peer_join(peer, NULL, JOIN_MS)); /* the peer is gone */
        char buf[8];
        assert_int_equal(usocket_read(p.ssl, buf, sizeof buf), -1);
        assert_oserror(cases[i].code);
        assert_int_equal(usocket_readline(p.ssl, buf, sizeof buf), -1);
        assert_oserror(cases[i].code);
        tu_tls_pair_release(&p);
    }
}

static void test_io_on_a_closed_ssl_socket_is_ebadf(void **state)
{
    (void)state;
    tu_tls_script sc = server();
    sc.end = TU_TLS_READ_UNTIL_CLOSE;
    tu_tls_pair p;
    tu_tls_peer *peer = tu_tls_pair_connected(&p, &sc, NULL);
    assert_int_equal(usocket_close(p.ssl), 0);
    /* The board raises an OSError whose number is unspecified (its TLS state is freed); the
     * library gives the 9 of every closed socket. */
    char buf[8];
    assert_int_equal(usocket_send(p.ssl, "x", 1), -1);
    assert_oserror(UERRNO_EBADF);
    assert_int_equal(usocket_recv(p.ssl, buf, sizeof buf), -1);
    assert_oserror(UERRNO_EBADF);
    assert_int_equal(usocket_read(p.ssl, buf, sizeof buf), -1);
    assert_oserror(UERRNO_EBADF);
    assert_int_equal(ussl_do_handshake(p.ssl), -1);
    assert_oserror(UERRNO_EBADF);
    assert_int_equal(usocket_fileno(p.ssl), -1);
    assert_true(tu_tls_peer_join(peer, NULL, JOIN_MS));
    tu_tls_pair_release(&p);
}

static void test_send_is_one_record_and_write_loops(void **state)
{
    (void)state;
    tu_tls_script sc = server();
    sc.end = TU_TLS_READ_UNTIL_CLOSE;
    tu_tls_pair p;
    tu_tls_peer *peer = tu_tls_pair_connected(&p, &sc, NULL);
    /* send is one mbedtls_ssl_write: at most one record of 16384 bytes. */
    static char big[20000];
    assert_int_equal(usocket_send(p.ssl, big, sizeof big), 16384);
    assert_int_equal(usocket_write(p.ssl, big, sizeof big), (ssize_t)sizeof big);
    tu_tls_pair_release(&p);
    assert_true(tu_tls_peer_join(peer, NULL, JOIN_MS));
}

struct blocked_recv {
    usocket *s;
    ssize_t n;
    upy_exc exc;
};

static void *recv_in_thread(void *arg)
{
    struct blocked_recv *b = arg;
    char buf[8];
    b->n = usocket_recv(b->s, buf, sizeof buf);
    b->exc = *upy_exc_current();
    return NULL;
}

static void test_close_from_another_thread_wakes_recv(void **state)
{
    (void)state;
    tu_tls_script sc = server();
    sc.end = TU_TLS_READ_UNTIL_CLOSE;
    tu_tls_pair p;
    tu_tls_peer *peer = tu_tls_pair_connected(&p, &sc, NULL);
    struct blocked_recv b = {.s = p.ssl};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, recv_in_thread, &b), 0);
    /* Whether the close comes before or during the recv, the recv ends with OSError(9). */
    assert_int_equal(usocket_close(p.ssl), 0);
    pthread_join(t, NULL);
    assert_int_equal(b.n, -1);
    assert_int_equal(b.exc.type, UPY_EXC_OSERROR);
    assert_int_equal(b.exc.code, UERRNO_EBADF);
    tu_tls_report r;
    assert_true(tu_tls_peer_join(peer, &r, JOIN_MS));
    assert_true(r.got_close_notify);
    tu_tls_pair_release(&p);
}

static void test_send_while_another_thread_waits_in_recv(void **state)
{
    (void)state;
    tu_tls_script sc = server();
    sc.read_first = true; /* answers only once our send arrived */
    sc.replies = pong;
    sc.end = TU_TLS_READ_UNTIL_CLOSE;
    tu_tls_pair p;
    tu_tls_peer *peer = tu_tls_pair_connected(&p, &sc, NULL);
    struct blocked_recv b = {.s = p.ssl};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, recv_in_thread, &b), 0);
    /* The reader waits outside the socket's lock, so this send is not stuck behind it. */
    assert_int_equal(usocket_send_str(p.ssl, "ping"), 4);
    pthread_join(t, NULL);
    assert_int_equal(b.n, 4);
    tu_tls_pair_release(&p);
    assert_true(tu_tls_peer_join(peer, NULL, JOIN_MS));
}

struct blocked_connect {
    usocket *s;
    int port, rc;
    upy_exc exc;
};

static void *connect_in_thread(void *arg)
{
    struct blocked_connect *b = arg;
    usocket_addr to = tu_loopback(b->port);
    b->rc = usocket_connect(b->s, &to);
    b->exc = *upy_exc_current();
    return NULL;
}

static void test_close_from_another_thread_aborts_a_handshake(void **state)
{
    (void)state;
    int port, listener = tu_listener(&port);
    tu_tls_pair p;
    tu_tls_pair_wrap(&p, NULL);
    struct blocked_connect b = {.s = p.ssl, .port = port};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, connect_in_thread, &b), 0);
    /* The ClientHello has arrived: the handshake waits for an answer that never comes. */
    int peer = tu_accept(listener, JOIN_MS);
    assert_true(peer >= 0);
    char hello[5];
    assert_int_equal(tu_read_exact(peer, hello, sizeof hello, JOIN_MS), 5);
    assert_int_equal(hello[0], 0x16); /* a handshake record */
    /* close() does not wait for it, and the handshake ends with OSError(9). */
    assert_int_equal(usocket_close(p.ssl), 0);
    pthread_join(t, NULL);
    assert_int_equal(b.rc, -1);
    assert_int_equal(b.exc.type, UPY_EXC_OSERROR);
    assert_int_equal(b.exc.code, UERRNO_EBADF);
    tu_tls_pair_release(&p);
    close(peer);
    close(listener);
}

/* --- timeouts ---------------------------------------------------------------------------------- */

static void test_read_timeouts_on_r6(void **state)
{
    (void)state;
    tu_tls_script sc = server();
    sc.end = TU_TLS_READ_UNTIL_CLOSE;
    tu_tls_pair p;
    tu_tls_peer *peer = tu_tls_pair_connected(&p, &sc, NULL);
    assert_int_equal(usocket_settimeout(p.ssl, 0.05), 0);
    char buf[8];
    uint64_t t0 = tu_now_ms();
    assert_int_equal(usocket_recv(p.ssl, buf, sizeof buf), -1);
    assert_string_equal(tu_exc_text(), "TimeoutError: timed out");
    assert_true(tu_now_ms() - t0 >= 50);
    /* The stream layer does not take SSL_TIMEOUT as would-block. */
    assert_int_equal(usocket_read(p.ssl, buf, sizeof buf), -1);
    assert_oserror(USSL_SSL_TIMEOUT);
    tu_tls_pair_release(&p);
    assert_true(tu_tls_peer_join(peer, NULL, JOIN_MS));
}

static void test_timed_connect_closes_the_socket_when_tls_fails(void **state)
{
    (void)state;
    tu_tls_script sc = server();
    int port;
    tu_tls_peer *peer = tu_tls_peer_start(&sc, &port);
    tu_tls_pair p;
    tu_tls_pair_wrap(&p, &(ussl_options){.cert_reqs = USSL_CERT_REQUIRED, .ca_certs = "/flash/cert/other_ca.pem"});
    assert_int_equal(usocket_settimeout(p.ssl, 5.0), 0);
    usocket_addr to = tu_loopback(port);
    assert_int_equal(usocket_connect(p.ssl, &to), -1);
    assert_oserror(-9984);
    /* The firmware's timed path closes the socket; the plain path (above) does not. */
    assert_int_equal(usocket_fileno(p.ssl), -1);
    tu_tls_pair_release(&p);
    assert_true(tu_tls_peer_join(peer, NULL, JOIN_MS));
}

static void test_timed_connect_of_an_ssl_socket_has_no_timeout(void **state)
{
    (void)state;
    tu_tls_script sc = {.start = TU_TLS_SILENT};
    int port;
    tu_tls_peer *peer = tu_tls_peer_start(&sc, &port);
    tu_tls_pair p;
    tu_tls_pair_wrap(&p, NULL);
    /* Counted as read timeouts, 10 of these would end a handshake after 100 ms. */
    assert_int_equal(usocket_settimeout(p.ssl, 0.01), 0);
    struct blocked_connect b = {.s = p.ssl, .port = port};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, connect_in_thread, &b), 0);
    bool waited = tu_thread_still_running(t, 250);
    assert_int_equal(usocket_close(p.ssl), 0); /* the only way out: the peer never answers */
    if (waited)
        pthread_join(t, NULL);
    assert_true(waited);
    assert_int_equal(b.rc, -1);
    assert_int_equal(b.exc.type, UPY_EXC_OSERROR);
    assert_int_equal(b.exc.code, UERRNO_EBADF);
    tu_tls_pair_release(&p);
    assert_true(tu_tls_peer_join(peer, NULL, JOIN_MS));
}

static void test_nonblocking_plain_socket_connects_nonblocking_then_the_handshake_blocks(void **state)
{
    (void)state;
    tu_tls_script sc = server();
    sc.read_first = true; /* answers only once our send arrived */
    sc.replies = pong;
    sc.end = TU_TLS_READ_UNTIL_CLOSE;
    int port;
    tu_tls_peer *peer = tu_tls_peer_start(&sc, &port);
    tu_tls_pair p = {.plain = tu_tcp()};
    assert_int_equal(usocket_setblocking(p.plain, false), 0);
    p.ssl = ussl_wrap_socket(p.plain, NULL);
    assert_non_null(p.ssl);
    usocket_addr to = tu_loopback(port);
    assert_int_equal(usocket_connect(p.ssl, &to), -1);
    assert_oserror(UERRNO_EINPROGRESS);
    assert_true(tu_usock_ready(p.ssl, POLLOUT, JOIN_MS)); /* the TCP connect is done */
    assert_int_equal(ussl_do_handshake(p.ssl), 0);
    /* The handshake set the fd blocking: recv waits for the reply to a send not yet made. */
    char buf[8];
    tu_bg bg;
    tu_bg_recv(&bg, p.ssl, buf, sizeof buf);
    bool returned_early = tu_bg_wait(&bg, 250);
    if (!returned_early)
        assert_int_equal(usocket_send_str(p.ssl, "ping"), 4);
    assert_true(returned_early || tu_bg_wait(&bg, JOIN_MS));
    assert_false(returned_early);
    assert_int_equal(bg.result, 4);
    assert_memory_equal(buf, "pong", 4);
    tu_tls_pair_release(&p);
    assert_true(tu_tls_peer_join(peer, NULL, JOIN_MS));
}

static void test_setblocking_false_keeps_an_r6_ssl_socket_blocking(void **state)
{
    (void)state;
    tu_tls_script sc = server();
    sc.replies = pong;
    int port;
    tu_tls_peer *peer = tu_tls_peer_start(&sc, &port);
    tu_tls_pair p;
    tu_tls_pair_wrap(&p, &verified);
    assert_int_equal(usocket_setblocking(p.ssl, false), 0);
    /* No EINPROGRESS: a blocking TCP connect and the whole handshake (tutorial 3 on r6). */
    usocket_addr to = tu_loopback(port);
    assert_int_equal(usocket_connect(p.ssl, &to), 0);
    char buf[8];
    assert_int_equal(usocket_recv(p.ssl, buf, sizeof buf), 4); /* waits for the record */
    tu_tls_pair_release(&p);
    assert_true(tu_tls_peer_join(peer, NULL, JOIN_MS));
}

static void test_ssl_timeout_counts_read_timeouts_on_r6(void **state)
{
    (void)state;
    tu_tls_script sc = {.start = TU_TLS_SILENT};
    int port;
    tu_tls_peer *peer = tu_tls_peer_start(&sc, &port);
    /* The device's way to a non-blocking TCP connect: the plain socket, before wrapping. */
    tu_tls_pair p = {.plain = tu_tcp()};
    assert_int_equal(usocket_setblocking(p.plain, false), 0);
    p.ssl = ussl_wrap_socket(p.plain, &(ussl_options){.timeout = 3});
    assert_non_null(p.ssl);
    usocket_addr to = tu_loopback(port);
    assert_int_equal(usocket_connect(p.ssl, &to), -1);
    assert_oserror(UERRNO_EINPROGRESS);
    assert_int_equal(usocket_settimeout(p.ssl, 0.05), 0);
    uint64_t t0 = tu_now_ms();
    assert_int_equal(ussl_do_handshake(p.ssl), -1);
    assert_oserror(USSL_SSL_TIMEOUT);
    assert_string_equal(tu_exc_text(), "OSError: [Errno -26624] MBEDTLS_ERR_SSL_TIMEOUT");
    assert_true(tu_now_ms() - t0 >= 3 * 50);
    tu_tls_pair_release(&p);
    assert_true(tu_tls_peer_join(peer, NULL, JOIN_MS));
}

static void test_tutorial_era_profile_drives_the_handshake_from_do_handshake(void **state)
{
    (void)state;
    assert_int_equal(upy_config_profile("pycom-1.20.0"), 0);
    tu_tls_script sc = server();
    sc.read_first = true;
    sc.end = TU_TLS_READ_UNTIL_CLOSE;
    int port;
    tu_tls_peer *peer = tu_tls_peer_start(&sc, &port);
    tu_tls_pair p;
    tu_tls_pair_wrap(&p, &verified);
    assert_int_equal(usocket_setblocking(p.ssl, false), 0);
    usocket_addr to = tu_loopback(port);
    assert_int_equal(usocket_connect(p.ssl, &to), -1);
    assert_oserror(UERRNO_EINPROGRESS);
    assert_int_equal(ussl_do_handshake(p.ssl), 0);
    assert_int_equal(usocket_send_str(p.ssl, "Data to send"), 12);
    /* The read timeout is fixed at 1000 ms; with timeout 0 its expiry is b''. */
    char buf[8];
    uint64_t t0 = tu_now_ms();
    assert_int_equal(usocket_recv(p.ssl, buf, sizeof buf), 0);
    assert_true(tu_now_ms() - t0 >= 1000);
    tu_tls_pair_release(&p);
    tu_tls_report r;
    assert_true(tu_tls_peer_join(peer, &r, JOIN_MS));
    assert_int_equal(r.received_len, 12);
    assert_true(r.got_close_notify);
}

static void test_tutorial_era_ssl_timeout_after_one_second_reads(void **state)
{
    (void)state;
    assert_int_equal(upy_config_profile("pycom-1.20.0"), 0);
    tu_tls_script sc = {.start = TU_TLS_SILENT};
    int port;
    tu_tls_peer *peer = tu_tls_peer_start(&sc, &port);
    tu_tls_pair p;
    tu_tls_pair_wrap(&p, &(ussl_options){.timeout = 1});
    assert_int_equal(usocket_setblocking(p.ssl, false), 0);
    usocket_addr to = tu_loopback(port);
    assert_int_equal(usocket_connect(p.ssl, &to), -1);
    assert_oserror(UERRNO_EINPROGRESS);
    uint64_t t0 = tu_now_ms();
    assert_int_equal(ussl_do_handshake(p.ssl), -1);
    assert_oserror(USSL_SSL_TIMEOUT);
    assert_true(tu_now_ms() - t0 >= 1000);
    tu_tls_pair_release(&p);
    assert_true(tu_tls_peer_join(peer, NULL, JOIN_MS));
}

/* --- versions, sessions ------------------------------------------------------------------------ */

static void test_tls_1_3_is_refused(void **state)
{
    (void)state;
    /* Our client against a TLS 1.3-only server: its protocol_version alert. */
    tu_tls_script sc = server();
    sc.min_version = TLS1_3_VERSION;
    int port;
    tu_tls_peer *peer = tu_tls_peer_start(&sc, &port);
    tu_tls_pair p;
    assert_int_equal(tu_tls_pair_connect(&p, port, NULL), -1);
    assert_oserror(-30592);
    tu_tls_pair_release(&p);
    assert_true(tu_tls_peer_join(peer, NULL, JOIN_MS));

    /* A server that would take TLS 1.3 gets TLS 1.2 from us. */
    tu_tls_report r;
    assert_int_equal(handshake_against("server.pem", &verified, &r), 0);
    assert_int_equal(r.version, TLS1_2_VERSION);
}

static usocket *listening(int *port)
{
    usocket *l = tu_tcp();
    usocket_addr any = tu_loopback(0);
    assert_int_equal(usocket_bind(l, &any), 0);
    assert_int_equal(usocket_listen(l, 2), 0);
    *port = tu_usock_port(l);
    return l;
}

/* Accept one raw OpenSSL client running `client` and wrap it as a server with o: the
 * wrap's result (NULL with the exception) and the client's report. */
static usocket *serve_one(const tu_tls_script *client, const ussl_options *o, tu_tls_report *r)
{
    int port;
    usocket *l = listening(&port);
    tu_tls_script c = *client;
    c.client = true;
    tu_tls_peer *peer = tu_tls_peer_start(&c, &port);
    usocket *conn = usocket_accept(l, NULL);
    assert_non_null(conn);
    usocket *ss = ussl_wrap_socket(conn, o);
    upy_exc e = *upy_exc_current();
    if (ss) {
        char buf[16];
        ssize_t n = usocket_recv(ss, buf, sizeof buf);
        assert_true(n > 0);
        assert_int_equal(usocket_send(ss, buf, (size_t)n), n);
        usocket_close(ss);
    }
    usocket_close(conn);
    assert_true(tu_tls_peer_join(peer, r, JOIN_MS));
    usocket_release(conn);
    usocket_release(l);
    upy_raise(e.type, e.code, e.has_code ? NULL : e.message);
    return ss;
}

static const ussl_options server_required = {.server_side = true, .keyfile = "/flash/cert/server.key",
                                             .certfile = "/flash/cert/server.pem",
                                             .cert_reqs = USSL_CERT_REQUIRED, .ca_certs = "/flash/cert/ca.pem"};

static void test_server_side_verifies_client_certificates(void **state)
{
    (void)state;
    static const char *const hello[] = {"hello", NULL};
    tu_tls_script client = {.cert = tu_cert("client.pem"), .key = tu_cert("client.key"), .ca = tu_cert("ca.pem"),
                            .replies = hello, .end = TU_TLS_READ_UNTIL_CLOSE};
    tu_tls_report r;
    usocket *ss = serve_one(&client, &server_required, &r);
    assert_non_null(ss);
    usocket_release(ss);
    assert_true(r.handshake_ok);
    assert_int_equal(r.version, TLS1_2_VERSION);
    assert_int_equal(r.received_len, 5); /* our echo */
    assert_true(r.got_close_notify);

    /* A certificate from another CA: our verification fails the handshake. */
    client.cert = tu_cert("other_client.pem");
    client.key = tu_cert("other_client.key");
    assert_null(serve_one(&client, &server_required, &r));
    assert_oserror(-9984);
    /* No certificate at all. */
    client.cert = client.key = NULL;
    assert_null(serve_one(&client, &server_required, &r));
    assert_oserror(UERRNO_MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE);
    /* CERT_OPTIONAL without one: the wrap-time check of the flags raises OSError(-1). */
    ussl_options optional = server_required;
    optional.cert_reqs = USSL_CERT_OPTIONAL;
    assert_null(serve_one(&client, &optional, &r));
    assert_oserror(-1);
    assert_true(r.handshake_ok);
    /* CERT_NONE asks for nothing. */
    ussl_options none = {.server_side = true, .keyfile = "/flash/cert/server.key", .certfile = "/flash/cert/server.pem"};
    ss = serve_one(&client, &none, &r);
    assert_non_null(ss);
    usocket_release(ss);
}

static void test_server_side_refuses_tls_1_3_clients(void **state)
{
    (void)state;
    tu_tls_script client = {.min_version = TLS1_3_VERSION};
    tu_tls_report r;
    ussl_options none = {.server_side = true, .keyfile = "/flash/cert/server.key", .certfile = "/flash/cert/server.pem"};
    assert_null(serve_one(&client, &none, &r));
    assert_oserror(UERRNO_MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION);
    assert_false(r.handshake_ok);
}

static void test_session_resumption(void **state)
{
    (void)state;
    tu_tls_script sc = server();
    sc.connections = 2;
    sc.end = TU_TLS_READ_UNTIL_CLOSE;
    int port;
    tu_tls_peer *peer = tu_tls_peer_start(&sc, &port);
    tu_tls_pair first;
    assert_int_equal(tu_tls_pair_connect(&first, port, &verified), 0);
    ussl_session *session = ussl_save_session(first.ssl);
    assert_non_null(session);
    tu_tls_pair_release(&first);

    ussl_options again = verified;
    again.saved_session = session;
    tu_tls_pair second;
    assert_int_equal(tu_tls_pair_connect(&second, port, &again), 0);
    tu_tls_pair_release(&second);
    ussl_session_release(session);

    tu_tls_report r[2];
    assert_true(tu_tls_peer_join(peer, r, JOIN_MS));
    assert_true(r[0].handshake_ok && r[1].handshake_ok);
    assert_false(r[0].reused);
    assert_true(r[1].reused);
}

static void test_calls_on_the_wrong_socket(void **state)
{
    (void)state;
    usocket *s = tu_tcp();
    /* do_handshake / save_session on a plain socket (undefined on the device). */
    assert_int_equal(ussl_do_handshake(s), -1);
    assert_oserror(UERRNO_EINVAL);
    assert_null(ussl_save_session(s));
    assert_oserror(UERRNO_EINVAL);
    usocket *ss = ussl_wrap_socket(s, NULL);
    assert_non_null(ss);
    /* Before any connect: mbedTLS's first send fails. No session yet. */
    assert_int_equal(ussl_do_handshake(ss), -1);
    assert_oserror(UERRNO_MBEDTLS_ERR_NET_SEND_FAILED);
    assert_null(ussl_save_session(ss));
    assert_oserror(UERRNO_MBEDTLS_ERR_SSL_BAD_INPUT_DATA);
    ussl_session_release(NULL);
    usocket_release(ss);
    usocket_release(s);
}

/* --- poll ---------------------------------------------------------------------------------------- */

static void test_plaintext_inside_tls_does_not_make_poll_readable(void **state)
{
    (void)state;
    static const char *const record[] = {"abcde", NULL};
    tu_tls_script sc = server();
    sc.replies = record;
    sc.end = TU_TLS_READ_UNTIL_CLOSE;
    tu_tls_pair p;
    tu_tls_peer *peer = tu_tls_pair_connected(&p, &sc, NULL);
    uselect_poller *poller = uselect_poll();
    assert_non_null(poller);
    assert_int_equal(uselect_poll_register(poller, p.ssl, USELECT_POLLIN), 0);
    uselect_event ev[2];
    assert_int_equal(uselect_poll_poll(poller, JOIN_MS, 0, ev, 2), 1);
    assert_ptr_equal(ev[0].obj, p.ssl);
    assert_int_equal(ev[0].revents, USELECT_POLLIN);
    char c;
    assert_int_equal(usocket_recv(p.ssl, &c, 1), 1);
    /* The device (SEMANTICS §4.3): "bcde" sits decrypted inside the TLS layer, the raw socket
     * has nothing, so poll reports nothing, although recv has data without waiting. */
    assert_int_equal(uselect_poll_poll(poller, 0, 0, ev, 2), 0);
    assert_int_equal(usocket_recv(p.ssl, &c, 1), 1);
    assert_int_equal(c, 'b');
    /* The quirk switched off: buffered plaintext is POLLIN. */
    assert_int_equal(upy_config_limit(UPY_LIMIT_POLL_TLS_BUFFERED, 1), 0);
    assert_int_equal(uselect_poll_poll(poller, 0, 0, ev, 2), 1);
    assert_int_equal(ev[0].revents, USELECT_POLLIN);
    char rest[8];
    assert_int_equal(usocket_recv(p.ssl, rest, sizeof rest), 3);
    assert_int_equal(uselect_poll_poll(poller, 0, 0, ev, 2), 0);
    uselect_poll_free(poller);
    tu_tls_pair_release(&p);
    assert_true(tu_tls_peer_join(peer, NULL, JOIN_MS));
}

/* --- the context cache ------------------------------------------------------------------------- */

static void test_contexts_are_shared_until_a_file_changes(void **state)
{
    (void)state;
    /* A private copy of the CA, so touching it disturbs no other test. */
    char copy[] = "cache-ca.pem";
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp '%s' %s", tu_cert("ca.pem"), copy);
    assert_int_equal(system(cmd), 0);
    struct tls_config cfg = {.verify = 2, .ca_file = copy, .max_version = 0x0303};
    tls_ctx *a, *b, *c;
    enum tls_file missing;
    assert_int_equal(tls_ctx_get(&cfg, &a, &missing), 0);
    assert_int_equal(tls_ctx_get(&cfg, &b, &missing), 0);
    assert_ptr_equal(a, b);
    cfg.verify = 1; /* another option set: another context */
    assert_int_equal(tls_ctx_get(&cfg, &c, &missing), 0);
    assert_ptr_not_equal(a, c);
    tls_ctx_release(c);
    cfg.verify = 2;
    struct timespec later[2] = {{0, UTIME_OMIT}, {12345, 0}};
    assert_int_equal(utimensat(AT_FDCWD, copy, later, 0), 0);
    assert_int_equal(tls_ctx_get(&cfg, &c, &missing), 0);
    assert_ptr_not_equal(a, c);
    /* Replaced the way deployments do it, by renaming a new file over it: seen at once too. */
    tls_ctx *d, *e;
    snprintf(cmd, sizeof cmd, "cp '%s' cache-ca.new && mv cache-ca.new %s", tu_cert("ca.pem"), copy);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(tls_ctx_get(&cfg, &d, &missing), 0);
    assert_ptr_not_equal(c, d);
    assert_int_equal(tls_ctx_get(&cfg, &e, &missing), 0);
    assert_ptr_equal(d, e); /* and shared again while nothing changes */
    tls_ctx_release(d);
    tls_ctx_release(e);
    tls_ctx_release(a);
    tls_ctx_release(b);
    tls_ctx_release(c);
    unlink(copy);
    assert_int_equal(tls_ctx_get(&cfg, &c, &missing), TLS_FILE_MISSING);
    assert_int_equal(missing, TLS_FILE_CA);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* the raw OpenSSL peer writes with write(2) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_module_constants_are_the_devices, setup),
        cmocka_unit_test_setup(test_wrap_rejects_the_devices_bad_combinations, setup),
        cmocka_unit_test_setup(test_wrap_of_a_closed_socket_is_ebadf, setup),
        cmocka_unit_test_setup(test_missing_files_are_reported_as_the_device_words_them, setup),
        cmocka_unit_test_setup(test_unparsable_files_raise_mbedtls_codes, setup),
        cmocka_unit_test_setup(test_der_files_do_not_parse, setup),
        cmocka_unit_test_setup(test_paths_outside_flash_are_plain_files, setup),
        cmocka_unit_test_setup(test_client_handshake_runs_in_connect, setup),
        cmocka_unit_test_setup(test_a_connected_socket_shakes_hands_in_wrap, setup),
        cmocka_unit_test_setup(test_untrusted_chain, setup),
        cmocka_unit_test_setup(test_ssl_version_is_accepted_and_ignored, setup),
        cmocka_unit_test_setup(test_blocking_connect_keeps_the_socket_open_when_tls_fails, setup),
        cmocka_unit_test_setup(test_wrapping_a_connected_socket_raises_minus_1_when_optional_checks_fail, setup),
        cmocka_unit_test_setup(test_optional_flags_are_rechecked_by_do_handshake, setup),
        cmocka_unit_test_setup(test_hostname_is_checked_only_when_given, setup),
        cmocka_unit_test_setup(test_hostname_empty_or_too_long, setup),
        cmocka_unit_test_setup(test_expired_certificate, setup),
        cmocka_unit_test_setup(test_fatal_alert_received, setup),
        cmocka_unit_test_setup(test_eof_and_reset_during_the_handshake, setup),
        cmocka_unit_test_setup(test_recv_ends, setup),
        cmocka_unit_test_setup(test_recv_returns_one_record_at_a_time, setup),
        cmocka_unit_test_setup(test_recv_returns_a_whole_record_past_2048, setup),
        cmocka_unit_test_setup(test_stream_calls_raise_mbedtls_codes, setup),
        cmocka_unit_test_setup(test_io_on_a_closed_ssl_socket_is_ebadf, setup),
        cmocka_unit_test_setup(test_send_is_one_record_and_write_loops, setup),
        cmocka_unit_test_setup(test_close_from_another_thread_wakes_recv, setup),
        cmocka_unit_test_setup(test_send_while_another_thread_waits_in_recv, setup),
        cmocka_unit_test_setup(test_close_from_another_thread_aborts_a_handshake, setup),
        cmocka_unit_test_setup(test_read_timeouts_on_r6, setup),
        cmocka_unit_test_setup(test_timed_connect_closes_the_socket_when_tls_fails, setup),
        cmocka_unit_test_setup(test_timed_connect_of_an_ssl_socket_has_no_timeout, setup),
        cmocka_unit_test_setup(test_nonblocking_plain_socket_connects_nonblocking_then_the_handshake_blocks, setup),
        cmocka_unit_test_setup(test_setblocking_false_keeps_an_r6_ssl_socket_blocking, setup),
        cmocka_unit_test_setup(test_ssl_timeout_counts_read_timeouts_on_r6, setup),
        cmocka_unit_test_setup(test_tutorial_era_profile_drives_the_handshake_from_do_handshake, setup),
        cmocka_unit_test_setup(test_tutorial_era_ssl_timeout_after_one_second_reads, setup),
        cmocka_unit_test_setup(test_tls_1_3_is_refused, setup),
        cmocka_unit_test_setup(test_server_side_verifies_client_certificates, setup),
        cmocka_unit_test_setup(test_server_side_refuses_tls_1_3_clients, setup),
        cmocka_unit_test_setup(test_session_resumption, setup),
        cmocka_unit_test_setup(test_calls_on_the_wrong_socket, setup),
        cmocka_unit_test_setup(test_plaintext_inside_tls_does_not_make_poll_readable, setup),
        cmocka_unit_test_setup(test_contexts_are_shared_until_a_file_changes, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
