/*
 * tls_handshake and tls_bulk: TLS 1.2, ECDHE-ECDSA on P-256 with AES-128-GCM, the client
 * verifying the server against a CA. Both ends go through the side under test: upysock's
 * wrap_socket at both ends, or OpenSSL over blocking fds at both ends.
 */
#include <stdio.h>
#include <string.h>

#include "bench.h"

/* --- what the side negotiates ------------------------------------------------------------- */

struct probe {
    const struct net_ops *server;
    bsock listener;
    bsock conn;
    int rc;
};

static void *probe_accept(void *arg)
{
    struct probe *p = arg;
    p->rc = p->server->accept(p->listener, &p->conn);
    return NULL;
}

/* One handshake between `server` and `client` (one of them raw); `raw_server` says which end's
 * SSL to ask. 0 when it negotiated the benchmark's suite, group and version. */
static int probe_once(const struct net_ops *server, const struct net_ops *client, bool raw_server)
{
    struct probe p = {.server = server, .rc = -1};
    bsock c;
    int port = free_port(), ok = -1;
    if (port < 0 || server->listen(port, 1, &p.listener) < 0)
        return -1;
    bench_thread *t = thread_start(probe_accept, &p);
    int crc = t ? client->connect(port, &c) : -1;
    if (crc < 0)
        server->close_listener(p.listener); /* the server may still wait in accept */
    thread_join(t);
    if (crc == 0 && p.rc == 0) {
        SSL *ssl = raw_server ? p.conn.ssl : c.ssl;
        const char *cipher = SSL_get_cipher_name(ssl);
        const char *group = SSL_group_to_name(ssl, SSL_get_negotiated_group(ssl));
        ok = SSL_version(ssl) == TLS1_2_VERSION && cipher && strcmp(cipher, BENCH_TLS_CIPHER) == 0 &&
                     group && strcmp(group, "secp256r1") == 0 ? 0 : -1;
        if (ok < 0)
            bench_error("%s %s negotiated %s %s on %s, not TLSv1.2 " BENCH_TLS_CIPHER " on P-256",
                        raw_server ? client->side : server->side, raw_server ? "client" : "server",
                        SSL_get_version(ssl), cipher ? cipher : "?", group ? group : "?");
    }
    if (crc == 0)
        client->close(c);
    if (p.rc == 0)
        server->close(p.conn);
    if (crc == 0)
        server->close_listener(p.listener);
    return ok;
}

int tls_check_negotiation(const struct net_ops *side)
{
    return probe_once(&raw_tls_ops, side, true) == 0 && probe_once(side, &raw_tls_ops, false) == 0 ? 0 : -1;
}

#ifdef BENCH_HAVE_USSL

struct handshake_run {
    const struct net_ops *ops;
    bsock listener;
    long n;
    int rc;
};

static void *handshake_serve(void *arg)
{
    struct handshake_run *h = arg;
    h->rc = 0;
    for (long i = 0; i < h->n; i++) {
        bsock c;
        if (h->ops->accept(h->listener, &c) < 0) {
            h->rc = -1;
            break;
        }
        h->ops->close(c);
    }
    return NULL;
}

/* Full handshakes back to back; each connection closes right after its handshake. */
static struct sample handshake_run(const struct bench_case *bc, const void *side)
{
    struct handshake_run h = {.ops = side, .n = *(const long *)bc->params};
    int port = free_port();
    if (port < 0 || h.ops->listen(port, 5, &h.listener) < 0)
        return SAMPLE_FAILED;
    bench_thread *t = thread_start(handshake_serve, &h);
    struct stamp t0 = stamp_now();
    struct sample rate = SAMPLE_FAILED;
    double fastest = INFINITY;
    long i = 0;
    for (; t && i < h.n; i++) {
        bsock c;
        double began = now_s();
        if (h.ops->connect(port, &c) < 0)
            break;
        h.ops->close(c);
        fastest = fmin(fastest, now_s() - began);
    }
    if (i == h.n) {
        rate = sample_rate((double)h.n, t0, stamp_now());
        rate.op_min = fastest;
    }
    else
        h.ops->close_listener(h.listener); /* the server may still wait in accept */
    thread_join(t);
    if (i == h.n)
        h.ops->close_listener(h.listener);
    return h.rc == 0 ? rate : SAMPLE_FAILED;
}

int scenario_tls_handshake(void)
{
    static long n;
    n = bench_cfg.quick ? 50 : 1000;
    if (tls_fixture_init() < 0 || upy_profile_for(0, 0) < 0 || tls_check_negotiation(&upy_tls_ops) < 0 ||
        tls_check_negotiation(&raw_tls_ops) < 0)
        return -1;
    struct bench_case bc = {
        .scenario = "tls_handshake",
        .unit = "handshakes/s",
        .nsides = 2,
        .sides = {&upy_tls_ops, &raw_tls_ops},
        .side_names = {"upysock", "raw"},
        .run = handshake_run,
        .params = &n,
    };
    return bench_compare(&bc);
}

int scenario_tls_bulk(void)
{
    /* 16 KiB calls: one full TLS record per call at both ends. */
    size_t total = (bench_cfg.quick ? 8u : 128u) << 20;
    if (tls_fixture_init() < 0 || upy_profile_for(0, 0) < 0 || tls_check_negotiation(&upy_tls_ops) < 0 ||
        tls_check_negotiation(&raw_tls_ops) < 0)
        return -1;
    return bulk_compare("tls_bulk", "", &upy_tls_ops, &raw_tls_ops, total, 16384);
}

#else

int scenario_tls_handshake(void)
{
    bench_print_skipped("tls_handshake", "", "ssl is not in this build (not yet on main)");
    return 0;
}

int scenario_tls_bulk(void)
{
    bench_print_skipped("tls_bulk", "", "ssl is not in this build (not yet on main)");
    return 0;
}

#endif
