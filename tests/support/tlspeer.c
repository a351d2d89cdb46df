#define _GNU_SOURCE
#include "tlspeer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "testutil.h"

#define PEER_WAIT_MS 5000
#define MAX_CONNECTIONS 4

struct tu_tls_peer {
    tu_tls_script script;
    int listener; /* server: the listening socket */
    int port;
    SSL_CTX *ctx;
    pthread_t thread;
    tu_tls_report reports[MAX_CONNECTIONS];
};

const char *tu_cert(const char *name)
{
    static _Thread_local char paths[4][512];
    static _Thread_local int next;
    char *path = paths[next++ % 4];
    snprintf(path, sizeof paths[0], "%s/cert/%s", UPYSOCK_TEST_FLASH, name);
    return path;
}

static void bound_waits(int fd)
{
    struct timeval tv = {PEER_WAIT_MS / 1000, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Reads whatever comes until EOF, an error or the bound. */
static void drain(int fd)
{
    char buf[512];
    while (read(fd, buf, sizeof buf) > 0)
        ;
}

static void send_raw(int fd, const char *bytes, size_t len)
{
    (void)!write(fd, bytes, len);
}
#define SEND_RAW(fd, literal) send_raw(fd, literal, sizeof literal - 1)

/* A start other than a handshake; closes fd. */
static void raw_start(const tu_tls_script *s, int fd)
{
    char hello[512];
    if (!s->client && s->start != TU_TLS_SILENT)
        (void)!read(fd, hello, sizeof hello);
    switch (s->start) {
    case TU_TLS_RAW_RST: tu_reset(fd); return;
    case TU_TLS_RAW_GARBAGE: SEND_RAW(fd, TU_TLS_GARBAGE); drain(fd); break;
    case TU_TLS_RAW_TRUNCATED: SEND_RAW(fd, TU_TLS_TRUNCATED); break;
    case TU_TLS_RAW_ALERT: SEND_RAW(fd, TU_TLS_ALERT); drain(fd); break;
    case TU_TLS_RAW_ALERT_RST: SEND_RAW(fd, TU_TLS_ALERT); tu_reset(fd); return;
    case TU_TLS_SILENT: drain(fd); break;
    default: break; /* RAW_FIN */
    }
    close(fd);
}

/* The raw ends, written past OpenSSL on the established connection. */
static void raw_end(enum tu_tls_end end, int fd)
{
    switch (end) {
    case TU_TLS_GARBAGE_END: SEND_RAW(fd, TU_TLS_GARBAGE); drain(fd); break;
    case TU_TLS_TRUNCATED_END: SEND_RAW(fd, "\x17\x03\x03\x00\x64" "0123456789"); break;
    case TU_TLS_ALERT_END: SEND_RAW(fd, TU_TLS_ALERT); drain(fd); break;
    default: break;
    }
}

static void one_connection(tu_tls_peer *p, tu_tls_report *r)
{
    const tu_tls_script *s = &p->script;
    int fd = s->client ? tu_connect(p->port) : tu_accept(p->listener, PEER_WAIT_MS);
    if (fd < 0)
        return;
    bound_waits(fd);
    if (s->start != TU_TLS_HANDSHAKE) {
        raw_start(s, fd);
        return;
    }
    SSL *ssl = SSL_new(p->ctx);
    SSL_set_fd(ssl, fd);
    r->handshake_ok = (s->client ? SSL_connect(ssl) : SSL_accept(ssl)) == 1;
    if (r->handshake_ok) {
        r->version = SSL_version(ssl);
        r->reused = SSL_session_reused(ssl) == 1;
        r->peer_cert = SSL_get0_peer_certificate(ssl) != NULL;
        const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        snprintf(r->sni, sizeof r->sni, "%s", sni ? sni : "");
        if (s->read_first) {
            int n = SSL_read(ssl, r->received, sizeof r->received);
            r->received_len = n > 0 ? (size_t)n : 0;
        }
        for (const char *const *reply = s->replies; reply && *reply; reply++)
            SSL_write(ssl, *reply, (int)strlen(*reply));
        if (s->end == TU_TLS_READ_UNTIL_CLOSE) {
            int n;
            while ((n = SSL_read(ssl, r->received + r->received_len, (int)(sizeof r->received - r->received_len))) > 0)
                r->received_len += (size_t)n;
            r->got_close_notify = SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN;
            drain(fd); /* the other side's socket goes after its close_notify, not because of ours */
        }
        if (s->end == TU_TLS_CLOSE_NOTIFY)
            SSL_shutdown(ssl);
        if (s->end >= TU_TLS_GARBAGE_END)
            raw_end(s->end, fd);
    }
    ERR_clear_error();
    SSL_free(ssl);
    if (s->end == TU_TLS_RST && r->handshake_ok)
        tu_reset(fd);
    else
        close(fd);
}

static void *peer_main(void *arg)
{
    tu_tls_peer *p = arg;
    int n = p->script.connections ? p->script.connections : 1;
    for (int i = 0; i < n && i < MAX_CONNECTIONS; i++)
        one_connection(p, &p->reports[i]);
    return NULL;
}

tu_tls_script tu_tls_pong_server(void)
{
    static const char *const replies[] = {"pong", NULL};
    return (tu_tls_script){.cert = tu_cert("server.pem"), .key = tu_cert("server.key"), .read_first = true,
                           .replies = replies, .end = TU_TLS_CLOSE_NOTIFY};
}

tu_tls_peer *tu_tls_peer_start(const tu_tls_script *script, int *port)
{
    tu_tls_peer *p = calloc(1, sizeof *p);
    assert_non_null(p);
    p->script = *script;
    p->ctx = SSL_CTX_new(script->client ? TLS_client_method() : TLS_server_method());
    assert_non_null(p->ctx);
    if (script->min_version)
        SSL_CTX_set_min_proto_version(p->ctx, script->min_version);
    if (script->max_version)
        SSL_CTX_set_max_proto_version(p->ctx, script->max_version);
    if (script->cert) {
        assert_int_equal(SSL_CTX_use_certificate_chain_file(p->ctx, script->cert), 1);
        assert_int_equal(SSL_CTX_use_PrivateKey_file(p->ctx, script->key, SSL_FILETYPE_PEM), 1);
    }
    if (script->ca) {
        assert_int_equal(SSL_CTX_load_verify_locations(p->ctx, script->ca, NULL), 1);
        SSL_CTX_set_verify(p->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    if (script->client) {
        p->port = *port;
    } else {
        p->listener = tu_listener(&p->port);
        *port = p->port;
    }
    assert_int_equal(pthread_create(&p->thread, NULL, peer_main, p), 0);
    return p;
}

bool tu_tls_peer_join(tu_tls_peer *p, tu_tls_report *reports, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L)
        until.tv_sec++, until.tv_nsec -= 1000000000L;
    if (pthread_timedjoin_np(p->thread, NULL, &until) != 0)
        return false;
    int n = p->script.connections ? p->script.connections : 1;
    if (reports)
        memcpy(reports, p->reports, sizeof p->reports[0] * (size_t)n);
    if (!p->script.client)
        close(p->listener);
    SSL_CTX_free(p->ctx);
    free(p);
    return true;
}

void tu_tls_pair_wrap(tu_tls_pair *p, const ussl_options *o)
{
    p->plain = tu_tcp();
    p->ssl = ussl_wrap_socket(p->plain, o);
    if (!p->ssl)
        fail_msg("wrap_socket: %s", tu_exc_text());
}

int tu_tls_pair_connect(tu_tls_pair *p, int port, const ussl_options *o)
{
    tu_tls_pair_wrap(p, o);
    return usocket_connect(p->ssl, &(usocket_addr){"127.0.0.1", port});
}

tu_tls_peer *tu_tls_pair_connected(tu_tls_pair *p, const tu_tls_script *sc, const ussl_options *o)
{
    int port;
    tu_tls_peer *peer = tu_tls_peer_start(sc, &port);
    assert_int_equal(tu_tls_pair_connect(p, port, o), 0);
    return peer;
}

void tu_tls_pair_release(tu_tls_pair *p)
{
    usocket_release(p->ssl);
    usocket_release(p->plain);
}
