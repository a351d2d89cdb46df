/*
 * tls_handshake and tls_bulk: TLS 1.2, ECDHE-ECDSA on P-256 with AES-128-GCM, the client
 * verifying the server against a CA. Both ends go through the side under test: upysock's
 * wrap_socket at both ends, or OpenSSL over blocking fds at both ends.
 */
#include <stdio.h>

#include "bench.h"

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
static double handshake_run(const struct bench_case *bc, const void *side)
{
    struct handshake_run h = {.ops = side, .n = *(const long *)bc->params};
    int port = free_port();
    if (port < 0 || h.ops->listen(port, 5, &h.listener) < 0)
        return -1;
    bench_thread *t = thread_start(handshake_serve, &h);
    double t0 = now_s(), elapsed = -1;
    long i = 0;
    for (; t && i < h.n; i++) {
        bsock c;
        if (h.ops->connect(port, &c) < 0)
            break;
        h.ops->close(c);
    }
    if (i == h.n)
        elapsed = now_s() - t0;
    else
        h.ops->close_listener(h.listener); /* the server may still wait in accept */
    thread_join(t);
    if (i == h.n)
        h.ops->close_listener(h.listener);
    return elapsed > 0 && h.rc == 0 ? (double)h.n / elapsed : -1;
}

int scenario_tls_handshake(void)
{
    static long n;
    n = bench_cfg.quick ? 50 : 1000;
    if (tls_fixture_init() < 0 || upy_profile_for(0, 0) < 0)
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
    if (tls_fixture_init() < 0 || upy_profile_for(0, 0) < 0)
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
