/*
 * accept: tutorial 1's server. An accept loop starts a thread per client; that thread receives
 * 12 bytes, replies with the client's number and closes. Clients run in 1 or 4 threads, each
 * connecting, sending 12 bytes, reading the reply and closing, in a loop. The figure is
 * connections per second, timed on the clients from the start barrier to the last reply.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define HELLO "Hello world!" /* 12 bytes */

struct accept_params {
    long conns;
    int clients;
};

struct accept_run {
    const struct net_ops *ops;
    const struct accept_params *p;
    int port;
    bsock listener;
    pthread_barrier_t start;
    atomic_long handled;
    atomic_int failed;
};

struct client_args {
    struct accept_run *run;
    bsock s;
    long n;
};

/* The tutorial's client_thread. */
static int client_thread(void *arg)
{
    struct client_args *a = arg;
    struct accept_run *run = a->run;
    const struct net_ops *ops = run->ops;
    char r[12], reply[24];
    ssize_t len = ops->recv(a->s, r, sizeof r);
    int n = snprintf(reply, sizeof reply, "%ld", a->n);
    if (len != (ssize_t)sizeof r || ops->send(a->s, reply, (size_t)n) != n)
        atomic_store(&run->failed, 1);
    ops->close(a->s);
    free(a);
    atomic_fetch_add(&run->handled, 1);
    return 0;
}

static void *accept_loop(void *arg)
{
    struct accept_run *run = arg;
    for (long c = 0; c < run->p->conns; c++) {
        struct client_args *a = xcalloc(1, sizeof *a);
        *a = (struct client_args){.run = run, .n = c};
        if (run->ops->accept(run->listener, &a->s) < 0 || run->ops->spawn(client_thread, a) < 0) {
            free(a);
            atomic_store(&run->failed, 1);
            break;
        }
    }
    return NULL;
}

static void *client_loop(void *arg)
{
    struct accept_run *run = arg;
    const struct net_ops *ops = run->ops;
    long mine = run->p->conns / run->p->clients;
    char reply[24];
    pthread_barrier_wait(&run->start);
    for (long i = 0; i < mine && !atomic_load(&run->failed); i++) {
        bsock s;
        if (ops->connect(run->port, &s) < 0) {
            atomic_store(&run->failed, 1);
            break;
        }
        if (ops->send(s, HELLO, 12) != 12 || ops->recv(s, reply, sizeof reply) <= 0)
            atomic_store(&run->failed, 1);
        ops->close(s);
    }
    return NULL;
}

/* The per-client threads are detached: wait until the last one has closed its socket. */
static bool wait_handlers(struct accept_run *run)
{
    for (int ms = 0; ms < 10000; ms++) {
        if (atomic_load(&run->handled) == run->p->conns)
            return true;
        usleep(1000);
    }
    return false;
}

static struct sample accept_run(const struct bench_case *bc, const void *side)
{
    struct accept_run run = {.ops = side, .p = bc->params, .port = free_port()};
    bench_thread *clients[8] = {NULL};
    int nclients = run.p->clients;
    if (run.port < 0 || run.ops->listen(run.port, 5, &run.listener) < 0) /* listen(5), as the tutorial */
        return SAMPLE_FAILED;
    pthread_barrier_init(&run.start, NULL, (unsigned)nclients + 1);
    bench_thread *acceptor = thread_start(accept_loop, &run);
    for (int i = 0; i < nclients; i++)
        clients[i] = thread_start(client_loop, &run);
    struct stamp t0 = stamp_now();
    pthread_barrier_wait(&run.start);
    for (int i = 0; i < nclients; i++)
        thread_join(clients[i]);
    struct sample rate = sample_rate((double)run.p->conns, t0, stamp_now());
    bool done = !atomic_load(&run.failed) && wait_handlers(&run);
    if (!done)
        run.ops->close_listener(run.listener); /* an acceptor still waiting gives up */
    thread_join(acceptor);
    if (done)
        run.ops->close_listener(run.listener);
    pthread_barrier_destroy(&run.start);
    return done ? rate : SAMPLE_FAILED;
}

int scenario_accept(void)
{
    static struct accept_params p[2];
    int rc = 0;
    /* Clients, handlers and the listener are all upysock sockets: more than the board's 10. */
    if (upy_profile_for(256, 0) < 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        p[i] = (struct accept_params){.conns = bench_cfg.quick ? 400 : 8000, .clients = i ? 4 : 1};
        struct bench_case bc = {
            .scenario = "accept",
            .unit = "connections/s",
            .nsides = 2,
            .sides = {&upy_plain_ops, &raw_plain_ops},
            .side_names = {"upysock", "raw"},
            .run = accept_run,
            .params = &p[i],
        };
        snprintf(bc.variant, sizeof bc.variant, "clients=%d", p[i].clients);
        if (bench_compare(&bc) < 0)
            rc = -1;
    }
    upy_profile_for(0, 0);
    return rc;
}
