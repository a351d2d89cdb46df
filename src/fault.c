/*
 * The fault engine: which rule fires at which event. Rules are replaced as a whole under a write
 * lock; decisions take the read lock and advance per-rule atomic counts, so two threads never
 * see the same count and a run with the same sequence of calls sees the same faults.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>

#include "fault.h"
#include "host/host.h"

atomic_bool fault_active;
static atomic_uint in_use; /* 1 << effect for each effect some rule has */

static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static struct fault_set rules = {.seed = FAULT_DEFAULT_SEED};
static atomic_ulong matched[FAULT_RULES_MAX];
static uint64_t origin_us;

int fault_set_rules(const char *spec, char *err, size_t errsize)
{
    static struct fault_set parsed; /* under config's single setter: too big for the stack */
    static pthread_mutex_t parsing = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&parsing);
    int rc = fault_parse(spec, &parsed, err, errsize);
    if (rc == 0) {
        pthread_rwlock_wrlock(&lock);
        rules = parsed;
        for (int i = 0; i < FAULT_RULES_MAX; i++)
            atomic_store(&matched[i], 0);
        origin_us = host_monotonic_us();
        unsigned effects = 0;
        for (int i = 0; i < rules.count; i++)
            effects |= 1u << rules.rule[i].effect;
        atomic_store(&in_use, effects);
        atomic_store(&fault_active, rules.count > 0);
        pthread_rwlock_unlock(&lock);
    }
    pthread_mutex_unlock(&parsing);
    return rc;
}

uint64_t fault_origin_us(void)
{
    pthread_rwlock_rdlock(&lock);
    uint64_t t = origin_us;
    pthread_rwlock_unlock(&lock);
    return t;
}

/* splitmix64 of (seed, rule, n): independent draws without a shared stream, so one rule's
 * draws do not depend on how often another rule was consulted. */
uint64_t fault_draw(uint64_t seed, int rule, uint64_t n)
{
    uint64_t z = seed * 0x9e3779b97f4a7c15ull + ((uint64_t)rule << 40) + n;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static bool end_matches(const struct fault_rule *r, uint32_t ip, int port)
{
    return (r->any_ip || ip == r->ip) && (r->port < 0 || port == r->port);
}

static bool in_window(const struct fault_rule *r, uint64_t now)
{
    uint64_t from = origin_us + r->at_us;
    return now >= from && (r->for_us == 0 || now - from < r->for_us);
}

static bool selects(const struct fault_rule *r, const struct fault_event *ev, uint64_t now)
{
    if (r->has_addr && !end_matches(r, ev->peer_ip, ev->peer_port) && !end_matches(r, ev->local_ip, ev->local_port))
        return false;
    if (r->host[0] && (!ev->host || strcasecmp(r->host, ev->host) != 0))
        return false;
    if (r->dir != FAULT_BOTH && r->effect != FAULT_EXHAUST &&
        (ev->kind == FAULT_EV_SEND || ev->kind == FAULT_EV_RECV || ev->kind == FAULT_EV_ACCEPT) && r->dir != ev->dir)
        return false;
    /* A connection is one event for each delay rule: asked first for either direction, then for
     * what a recv-only rule adds. */
    if (ev->kind == FAULT_EV_LINK && (ev->dir == FAULT_RECV) != (r->dir == FAULT_RECV))
        return false;
    if (r->effect == FAULT_EXHAUST && (r->on == FAULT_ON_ACCEPT) != (ev->kind == FAULT_EV_ACCEPT))
        return false;
    return in_window(r, now);
}

#define E(x) (1u << FAULT_##x)
/* Which effects can happen at which event: a rule never fires where it means nothing. */
static const unsigned kind_effects[] = {
    [FAULT_EV_SOCKET] = E(EXHAUST),
    [FAULT_EV_CONNECT] = E(REFUSE) | E(HANG),
    [FAULT_EV_ACCEPT] = E(EXHAUST) | E(EAGAIN),
    [FAULT_EV_LINK] = E(DELAY),
    [FAULT_EV_TRANSFER] = E(RESET) | E(FIN) | E(TLS_STALL),
    [FAULT_EV_SEND] = E(SHORT) | E(EAGAIN),
    [FAULT_EV_RECV] = E(SHORT) | E(EAGAIN),
    [FAULT_EV_RESOLVE] = E(DNSFAIL) | E(DNSSLOW),
    [FAULT_EV_HANDSHAKE] = E(TLS_ALERT),
};

static bool fires(const struct fault_rule *r, uint64_t n, uint64_t draw)
{
    if (r->nth ? n != (uint64_t)r->nth : r->every && n % (uint64_t)r->every != 0)
        return false;
    return !r->p_set || r->p == UINT32_MAX || (uint32_t)(draw >> 32) < r->p;
}

bool fault_uses(unsigned effects)
{
    return (atomic_load_explicit(&in_use, memory_order_relaxed) & effects) != 0;
}

bool fault_decide(const struct fault_event *ev, unsigned effects, struct fault_rule *out)
{
    uint64_t now = host_monotonic_us();
    bool hit = false;
    int fired = 0;
    effects &= kind_effects[ev->kind];
    pthread_rwlock_rdlock(&lock);
    /* Every rule the event matches counts it, the first that fires acts: a rule's nth= is the
     * nth event it matched whatever the rules before it did. */
    for (int i = 0; i < rules.count; i++) {
        const struct fault_rule *r = &rules.rule[i];
        if (!(effects & 1u << r->effect) || !selects(r, ev, now))
            continue;
        uint64_t n = atomic_fetch_add(&matched[i], 1) + 1, draw = fault_draw(rules.seed, i, n);
        if (!hit && (hit = fires(r, n, draw))) {
            *out = *r;
            out->draw = draw;
            fired = i + 1;
        }
    }
    pthread_rwlock_unlock(&lock);
    if (hit)
        host_fault_fired(ev->sock, fault_effect_name(out->effect), fired);
    return hit;
}

int fault_link_down(uint64_t now, uint64_t *end_us, uint64_t *next_us)
{
    int down = 0;
    *next_us = UINT64_MAX;
    pthread_rwlock_rdlock(&lock);
    for (int i = 0; i < rules.count; i++) {
        const struct fault_rule *r = &rules.rule[i];
        uint64_t from = origin_us + r->at_us;
        if (r->effect != FAULT_LINKDOWN)
            continue;
        if (in_window(r, now)) {
            down = i + 1;
            *end_us = r->for_us ? from + r->for_us : UINT64_MAX;
        } else if (from > now && from < *next_us) {
            *next_us = from;
        }
    }
    pthread_rwlock_unlock(&lock);
    return down;
}
