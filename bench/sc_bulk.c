/*
 * bulk / tls_bulk: one stream, a sender thread and a receiver thread, fixed-size calls on both
 * ends. The clock starts before the first send and stops after the last byte is received.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

struct bulk_params {
    size_t total, chunk;
};

struct bulk_run {
    const struct net_ops *ops;
    const struct bulk_params *p;
    int port;
    bsock listener;
    struct stamp t0, t1;
    int send_rc, recv_rc;
};

static void *bulk_receive(void *arg)
{
    struct bulk_run *b = arg;
    const struct net_ops *ops = b->ops;
    char *buf = xcalloc(1, b->p->chunk);
    bsock c;
    b->recv_rc = -1;
    if (ops->accept(b->listener, &c) == 0) {
        size_t got = 0;
        ssize_t n = 1;
        while (got < b->p->total && (n = ops->recv(c, buf, b->p->chunk)) > 0)
            got += (size_t)n;
        b->t1 = stamp_now();
        b->recv_rc = got == b->p->total ? 0 : -1;
        ops->close(c);
    }
    free(buf);
    return NULL;
}

static void *bulk_send(void *arg)
{
    struct bulk_run *b = arg;
    const struct net_ops *ops = b->ops;
    char *buf = xcalloc(1, b->p->chunk);
    bsock c;
    b->send_rc = -1;
    memset(buf, 'b', b->p->chunk);
    if (ops->connect(b->port, &c) == 0) {
        size_t sent = 0;
        b->t0 = stamp_now();
        while (sent < b->p->total) {
            size_t len = b->p->total - sent < b->p->chunk ? b->p->total - sent : b->p->chunk;
            if (ops->send(c, buf, len) != (ssize_t)len)
                break;
            sent += len;
        }
        b->send_rc = sent == b->p->total ? 0 : -1;
        ops->close(c);
    }
    free(buf);
    return NULL;
}

static struct sample bulk_run(const struct bench_case *bc, const void *side)
{
    struct bulk_run b = {.ops = side, .p = bc->params, .port = free_port()};
    if (b.port < 0 || b.ops->listen(b.port, 1, &b.listener) < 0)
        return SAMPLE_FAILED;
    bench_thread *rx = thread_start(bulk_receive, &b);
    bench_thread *tx = rx ? thread_start(bulk_send, &b) : NULL;
    if (!tx)
        b.ops->close_listener(b.listener); /* wakes a receiver stuck in accept */
    thread_join(tx);
    thread_join(rx);
    if (tx)
        b.ops->close_listener(b.listener);
    if (!tx || b.send_rc < 0 || b.recv_rc < 0)
        return SAMPLE_FAILED;
    return sample_rate((double)b.p->total / 1e6, b.t0, b.t1);
}

int bulk_compare(const char *scenario, const char *variant, const struct net_ops *upy,
                 const struct net_ops *raw, size_t total, size_t chunk)
{
    static struct bulk_params p;
    p = (struct bulk_params){total, chunk};
    struct bench_case bc = {
        .scenario = scenario,
        .unit = "MB/s",
        .nsides = 2,
        .sides = {upy, raw},
        .side_names = {"upysock", "raw"},
        .run = bulk_run,
        .params = &p,
    };
    snprintf(bc.variant, sizeof bc.variant, "%s", variant);
    return bench_compare(&bc);
}

int scenario_bulk(void)
{
    size_t total = (bench_cfg.quick ? 16u : 256u) << 20;
    int rc = 0;
    /* The device's recv cap: 2048-byte calls at both ends. */
    if (upy_profile_for(0, 0) < 0 || bulk_compare("bulk", "2048", &upy_plain_ops, &raw_plain_ops, total, 2048) < 0)
        rc = -1;
    /* A load-tool profile: the cap lifted, 64 KiB calls. */
    if (upy_profile_for(0, -1) < 0 ||
        bulk_compare("bulk", "65536,recv_cap=0", &upy_plain_ops, &raw_plain_ops, total, 65536) < 0)
        rc = -1;
    upy_profile_for(0, 0);
    return rc;
}
