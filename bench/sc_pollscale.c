/*
 * pollscale: K idle registered sockets and one active pair, ping-ponging 64 bytes through one
 * poller in one thread: send on a, wait (b is readable), recv on b, send on b, wait (a is
 * readable), recv on a. The idle sockets are UDP sockets bound on loopback: never readable, no
 * peer, no TIME_WAIT left behind. The question is what each registered-but-idle socket costs a
 * wait: nothing with epoll, a scan with poll(2).
 *
 * Sockets are made and registered per run (not timed): at K = 10000 both sides' sockets would
 * not fit under a 20000-descriptor limit at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench.h"

#define MSG 64
#define TAG_A 0
#define TAG_B 1
#define TAG_IDLE 2

static const int ks[] = {1, 100, 1000, 10000};

struct pollscale_params {
    int k;
    long trips;      /* upysock and raw-epoll */
    long poll_trips; /* raw-poll: each wait scans K entries, so fewer trips keep a run short */
};

/* A side of this scenario: a poller, and the K it runs with (0: the case's K). The fourth side
 * is upysock at K = 1, run in the same rounds as upysock at K, for the scaling target. */
struct pollscale_side {
    const struct poll_ops *po;
    int k;
};

struct active_pair {
    bsock listener, a, b;
};

static int open_pair(const struct net_ops *net, struct active_pair *pair)
{
    int port = free_port();
    if (port < 0 || net->listen(port, 1, &pair->listener) < 0)
        return -1;
    int rc = net->connect(port, &pair->a);
    if (rc == 0 && net->accept(pair->listener, &pair->b) < 0) {
        net->close(pair->a);
        rc = -1;
    }
    net->close_listener(pair->listener);
    return rc;
}

/* One leg: send on `from`, wait until the poller names `to`, read it there. */
static bool leg(const struct poll_ops *po, void *poller, bsock from, bsock to, int to_tag)
{
    char buf[MSG];
    memset(buf, 'p', sizeof buf);
    return po->net->send(from, buf, sizeof buf) == MSG && po->wait(poller) == to_tag &&
           recv_full(po->net, to, buf, sizeof buf) == MSG;
}

static struct sample ping_pong(const struct poll_ops *po, void *poller, struct active_pair *pair, long trips)
{
    struct stamp t0 = stamp_now();
    for (long i = 0; i < trips; i++)
        if (!leg(po, poller, pair->a, pair->b, TAG_B) || !leg(po, poller, pair->b, pair->a, TAG_A))
            return SAMPLE_FAILED;
    return sample_rate((double)trips, t0, stamp_now());
}

static struct sample pollscale_run(const struct bench_case *bc, const void *side)
{
    const struct pollscale_side *ps = side;
    const struct poll_ops *po = ps->po;
    const struct pollscale_params *p = bc->params;
    const struct net_ops *net = po->net;
    int k = ps->k ? ps->k : p->k;
    bsock *idle = xcalloc((size_t)k, sizeof *idle);
    struct active_pair pair;
    void *poller = po->create(k + 2);
    struct sample rate = SAMPLE_FAILED;
    int made = 0;
    while (poller && made < k && net->open_idle(&idle[made]) == 0 && po->add(poller, idle[made], TAG_IDLE) == 0)
        made++;
    /* The active pair goes in last: a poll(2) user's scan passes every idle entry first. */
    if (made == k && open_pair(net, &pair) == 0) {
        if (po->add(poller, pair.a, TAG_A) == 0 && po->add(poller, pair.b, TAG_B) == 0)
            rate = ping_pong(po, poller, &pair, po == &raw_poll_ops ? p->poll_trips : p->trips);
        net->close(pair.a);
        net->close(pair.b);
    }
    for (int i = 0; i < made; i++)
        net->close(idle[i]);
    if (poller)
        po->destroy(poller);
    free(idle);
    return rate;
}

/* The scaling target: upysock at K against upysock at K = 1, measured in the same rounds. */
static void vs_k1(const struct bench_case *bc, const struct bench_result *r, int side, char *buf, size_t size)
{
    (void)side;
    const struct pollscale_params *p = bc->params;
    double vs = r->median[3] > 0 ? r->median[0] / r->median[3] : 0;
    snprintf(buf, size, "\"k\":%d,\"upysock_k1\":%.6g,\"upysock_vs_k1\":%.4f,\"upysock_vs_k1_paired\":%.4f",
             p->k, r->median[3], vs, r->paired_ratio[3]);
}

/* Descriptors this K needs, against what the process may open (raised to the hard limit). */
static bool fits(int k)
{
    struct rlimit rl;
    return getrlimit(RLIMIT_NOFILE, &rl) == 0 && (rlim_t)k + 64 <= rl.rlim_cur;
}

static int pollscale_one(int k)
{
    static struct pollscale_params p;
    long base = bench_cfg.quick ? 1000 : 20000;
    long poll_trips = base * 10 / (10 + k);
    p = (struct pollscale_params){.k = k, .trips = base, .poll_trips = poll_trips < 10 ? 10 : poll_trips};
    static const struct pollscale_side raw_epoll = {&raw_epoll_ops, 0}, raw_poll = {&raw_poll_ops, 0};
    struct bench_case bc = {
        .scenario = "pollscale",
        .unit = "round_trips/s",
        .nsides = 4,
        .nprinted = 3,
        .sides = {NULL, &raw_epoll, &raw_poll, NULL},
        .side_names = {"upysock", "raw-epoll", "raw-poll", "upysock-k1"},
        .run = pollscale_run,
        .params = &p,
    };
    snprintf(bc.variant, sizeof bc.variant, "k=%d", k);
    if (!fits(k)) {
        bench_print_skipped("pollscale", bc.variant, "RLIMIT_NOFILE too low for this K");
        return 0;
    }
#ifdef BENCH_HAVE_USELECT
    static const struct pollscale_side upy = {&upy_poll_ops, 0}, upy_k1 = {&upy_poll_ops, 1};
    bc.sides[0] = &upy;
    bc.sides[3] = &upy_k1;
    struct bench_result r;
    if (bench_measure(&bc, &r) < 0)
        return -1;
    bench_print(&bc, &r, vs_k1);
    return 0;
#else
    (void)vs_k1;
    bench_print_skipped("pollscale", bc.variant, "uselect is not in this build (not yet on main)");
    return 0;
#endif
}

int scenario_pollscale(void)
{
    int rc = 0;
    if (upy_profile_for(ks[sizeof ks / sizeof ks[0] - 1] + 16, 0) < 0)
        return -1;
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++)
        if (pollscale_one(ks[i]) < 0)
            rc = -1;
    upy_profile_for(0, 0);
    return rc;
}
