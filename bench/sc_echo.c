/*
 * echo: 64-byte ping-pong over loopback on blocking sockets, the server in its own thread.
 * Each round trip is one send and one recv at each end: the figure is the per-call cost of the
 * library against two context switches and four syscalls.
 */
#include <string.h>

#include "bench.h"

#define ECHO_SIZE 64

struct echo_server {
    const struct net_ops *ops;
    bsock listener;
    int rc;
};

static void *echo_serve(void *arg)
{
    struct echo_server *sv = arg;
    const struct net_ops *ops = sv->ops;
    char buf[ECHO_SIZE];
    bsock c;
    sv->rc = -1;
    if (ops->accept(sv->listener, &c) < 0)
        return NULL;
    ssize_t n;
    while ((n = recv_full(ops, c, buf, sizeof buf)) == ECHO_SIZE)
        if (ops->send(c, buf, sizeof buf) != ECHO_SIZE)
            break;
    sv->rc = n == 0 ? 0 : -1; /* the client closed after its last round trip */
    ops->close(c);
    return NULL;
}

static struct sample echo_run(const struct bench_case *bc, const void *side)
{
    const struct net_ops *ops = side;
    long trips = *(const long *)bc->params;
    struct echo_server sv = {.ops = ops};
    int port = free_port();
    if (port < 0 || ops->listen(port, 1, &sv.listener) < 0)
        return SAMPLE_FAILED;
    bench_thread *t = thread_start(echo_serve, &sv);
    bsock c;
    struct sample rate = SAMPLE_FAILED;
    if (t && ops->connect(port, &c) == 0) {
        char msg[ECHO_SIZE], back[ECHO_SIZE];
        memset(msg, 'e', sizeof msg);
        struct stamp t0 = stamp_now();
        double fastest = INFINITY, began = now_s(), ended;
        long i = 0;
        for (; i < trips; i++, began = ended) {
            if (ops->send(c, msg, sizeof msg) != ECHO_SIZE || recv_full(ops, c, back, sizeof back) != ECHO_SIZE)
                break;
            ended = now_s(); /* one clock read per round trip (vDSO, ~20 ns), both sides alike */
            fastest = fmin(fastest, ended - began);
        }
        if (i == trips) {
            rate = sample_rate((double)trips, t0, stamp_now());
            rate.op_min = fastest;
        }
        ops->close(c);
    }
    thread_join(t);
    ops->close_listener(sv.listener);
    return sv.rc == 0 ? rate : SAMPLE_FAILED;
}

int scenario_echo(void)
{
    static long trips;
    trips = bench_cfg.quick ? 2000 : 40000;
    if (upy_profile_for(0, 0) < 0)
        return -1;
    struct bench_case bc = {
        .scenario = "echo",
        .unit = "round_trips/s",
        .nsides = 2,
        .sides = {&upy_plain_ops, &raw_plain_ops},
        .side_names = {"upysock", "raw"},
        .run = echo_run,
        .params = &trips,
    };
    return bench_compare(&bc);
}
