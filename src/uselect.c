/*
 * uselect: poll objects over the epoll reactor, with the board's event rules.
 *
 * Each poll object owns one kernel epoll set. A registration is an entry keyed by the object
 * (never by the fd: a reused fd number can never be reported under an old object) and is also a
 * watcher on the socket's core, so the kernel set follows the device state: a fresh socket or a
 * closed one is not in it (Linux would report them), a connecting/connected/failed/listening one
 * is. poll() then costs what the ready sockets cost; idle ones are never scanned.
 *
 * Locks: the poll object's lock guards its map and slots; an entry's arming (what epoll watches)
 * is changed only under its socket core's lock, by the watcher callback. Order: poll, then core.
 * A poll() in flight waits without any lock: sockets registered meanwhile are reported if they
 * become ready before it returns; ones unregistered or closed meanwhile are not reported.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "host/observe.h"
#include "host/host.h"
#include "internal.h"
#include "sock.h"
#include "upysock/uselect.h"
#include "uselect_rules.h"

#define DEVICE_BITS (USELECT_POLLIN | USELECT_POLLOUT | USELECT_POLLHUP)

/* --- the rules --------------------------------------------------------------------------- */

int poll_interest(int state, bool closed, bool eof, int mask)
{
    /* Nothing to report ever: a closed socket, one the kernel would misreport as hung up, or a
     * mask with no reportable bit (POLLERR alone, or a one-shot that fired). */
    if (closed || state == SOCK_FRESH || !(mask & DEVICE_BITS))
        return POLL_NO_INTEREST;
    /* After the FIN was read only a later fatal error (HUP, which always comes) is readable. */
    return (mask & USELECT_POLLIN && !eof ? HOST_EV_IN : 0) | (mask & USELECT_POLLOUT ? HOST_EV_OUT : 0);
}

int poll_revents(int host_events, int type, int mask)
{
    int r;
    if (type == USOCKET_SOCK_STREAM && (host_events & (HOST_EV_HUP | HOST_EV_ERR)))
        r = DEVICE_BITS; /* lwIP's errevent: readable, writable and "except" (HUP), sticky */
    else /* a UDP error (ICMP) is noise to lwIP: never an event */
        r = (host_events & HOST_EV_IN ? USELECT_POLLIN : 0) | (host_events & HOST_EV_OUT ? USELECT_POLLOUT : 0);
    return r & mask;
}

/* --- entries ------------------------------------------------------------------------------ */

struct entry {
    struct sock_watcher watcher; /* first: the callback gets this pointer */
    uselect_poller *poller;
    usocket *obj;                /* a reference, held while registered */
    struct entry *next_in_bucket;
    atomic_int mask;
    uint32_t slot;
    bool armed;                  /* in the kernel set; changed under the core's lock */
    int armed_events;
    atomic_bool starved;         /* writable to the kernel, not to the device (send buffer past
                                    its low-water mark): OUT is left out of the kernel's set */
};

struct uselect_poller {
    pthread_mutex_t lock;
    int reactor;
    struct entry **buckets; /* obj → entry */
    size_t nbuckets, count;
    struct entry **slots;   /* slot → entry, for epoll keys */
    uint32_t *generation;   /* bumped when a slot is freed: old keys become stale */
    uint32_t *free_slots;   /* a stack of free slot numbers */
    size_t nslots, nfree;
    uselect_event *ipoll_events; /* ipoll's result and cursor */
    int ipoll_count, ipoll_next, ipoll_flags;
    uselect_event ipoll_tuple;   /* the one reused tuple */
    void *_Atomic data;          /* the caller's (uselect_poll_set_data) */
    atomic_size_t nstarved;      /* entries starved; changed under the lock */
    int recheck_ms;              /* how long a wait goes before starved entries are looked at */
    unsigned id;                 /* 1, 2, ... in creation order: names the poll object in a trace */
};

static uint64_t key_of(const uselect_poller *p, const struct entry *e)
{
    return (uint64_t)p->generation[e->slot] << 32 | e->slot;
}

/* The watcher callback: bring the kernel set in line with the entry's mask and the socket's
 * state. Runs under the core's lock. */
static void rearm(struct sock_watcher *w, struct ucore *c)
{
    struct entry *e = (struct entry *)w;
    int want = poll_interest(sock_state(c), sock_closed(c), atomic_load(&c->eof), atomic_load(&e->mask));
    if (want != POLL_NO_INTEREST && atomic_load(&e->starved))
        want &= ~HOST_EV_OUT; /* level-triggered OUT would end every wait at once */
    if (want == POLL_NO_INTEREST) {
        if (e->armed)
            host_reactor_unwatch(e->poller->reactor, &c->hs);
        e->armed = false;
        return;
    }
    if (e->armed && e->armed_events == want)
        return;
    /* A failure here (the fd going away under a racing close) leaves the entry unarmed, which
     * is what a closed socket is anyway. */
    e->armed = host_reactor_watch(e->poller->reactor, &c->hs, want, key_of(e->poller, e), e->armed) == 0;
    e->armed_events = want;
}

static size_t bucket_of(const uselect_poller *p, const usocket *obj)
{
    uintptr_t h = (uintptr_t)obj;
    h ^= h >> 17;
    h *= UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(h >> 32) & (p->nbuckets - 1);
}

static struct entry *find(const uselect_poller *p, const usocket *obj)
{
    struct entry *e = p->buckets[bucket_of(p, obj)];
    while (e && e->obj != obj)
        e = e->next_in_bucket;
    return e;
}

static bool grow_buckets(uselect_poller *p)
{
    size_t n = p->nbuckets * 2;
    struct entry **b = calloc(n, sizeof *b);
    if (!b)
        return false;
    struct entry **old = p->buckets;
    size_t oldn = p->nbuckets;
    p->buckets = b, p->nbuckets = n;
    for (size_t i = 0; i < oldn; i++) {
        for (struct entry *e = old[i], *next; e; e = next) {
            next = e->next_in_bucket;
            size_t at = bucket_of(p, e->obj);
            e->next_in_bucket = b[at];
            b[at] = e;
        }
    }
    free(old);
    return true;
}

/* A free slot for a new entry (its key's low half). */
static bool take_slot(uselect_poller *p, struct entry *e)
{
    if (p->nfree == 0) {
        size_t n = p->nslots ? p->nslots * 2 : 16;
        struct entry **slots = realloc(p->slots, n * sizeof *slots);
        if (slots)
            p->slots = slots;
        uint32_t *gen = slots ? realloc(p->generation, n * sizeof *gen) : NULL;
        if (gen)
            p->generation = gen;
        uint32_t *stack = gen ? realloc(p->free_slots, n * sizeof *stack) : NULL;
        if (!stack)
            return false;
        p->free_slots = stack;
        for (size_t i = n; i-- > p->nslots;) {
            p->slots[i] = NULL, p->generation[i] = 0;
            p->free_slots[p->nfree++] = (uint32_t)i;
        }
        p->nslots = n;
    }
    e->slot = p->free_slots[--p->nfree];
    p->slots[e->slot] = e;
    return true;
}

static void unlink_entry(uselect_poller *p, struct entry *e)
{
    struct entry **at = &p->buckets[bucket_of(p, e->obj)];
    while (*at != e)
        at = &(*at)->next_in_bucket;
    *at = e->next_in_bucket;
    p->slots[e->slot] = NULL;
    p->generation[e->slot]++;
    p->free_slots[p->nfree++] = e->slot;
    p->count--;
    if (atomic_load(&e->starved))
        atomic_fetch_sub(&p->nstarved, 1);
}

/* Stop watching and drop the entry. Caller holds p->lock. */
static void drop_entry(uselect_poller *p, struct entry *e)
{
    struct ucore *c = e->obj->core;
    atomic_store(&e->mask, 0);
    sock_poke(c, &e->watcher); /* disarm */
    sock_unwatch(c, &e->watcher);
    unlink_entry(p, e);
    usocket_release(e->obj);
    free(e);
}

/* --- the poll object ---------------------------------------------------------------------- */

/* A new poll object (poll() and select()'s own), or NULL with the code in *code. */
static uselect_poller *poller_new(int *code)
{
    static atomic_uint last_id;
    uselect_poller *p = calloc(1, sizeof *p);
    if (p) {
        p->id = atomic_fetch_add_explicit(&last_id, 1, memory_order_relaxed) + 1;
        p->nbuckets = 16;
        p->buckets = calloc(p->nbuckets, sizeof *p->buckets);
        p->reactor = p->buckets ? host_reactor_new() : -UERRNO_ENOMEM;
    }
    *code = !p ? UPY__E_MEMORY : p->reactor < 0 ? p->reactor : 0;
    if (*code < 0) {
        if (p)
            free(p->buckets), free(p);
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    return p;
}

uselect_poller *uselect_poll(void)
{
    int rc;
    uselect_poller *p = poller_new(&rc);
    UPY__TRACE_CALL("poll_new", NULL, rc, {"poller", .num = p ? p->id : 0});
    if (!p)
        upy__raise(rc);
    return p;
}

static void poller_free(uselect_poller *p)
{
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->nbuckets; i++)
        while (p->buckets[i])
            drop_entry(p, p->buckets[i]);
    pthread_mutex_unlock(&p->lock);
    host_reactor_free(p->reactor);
    pthread_mutex_destroy(&p->lock);
    free(p->buckets), free(p->slots), free(p->generation), free(p->free_slots);
    free(p->ipoll_events), free(p);
}

void uselect_poll_free(uselect_poller *p)
{
    if (!p)
        return;
    UPY__TRACE_CALL("poll_free", NULL, 0, {"poller", .num = p->id});
    poller_free(p);
}

int uselect_poll_set_data(uselect_poller *p, void *data)
{
    if (!p)
        return upy__raise(UPY__E_NULL_POLL);
    atomic_store_explicit(&p->data, data, memory_order_release);
    return 0;
}

void *uselect_poll_get_data(const uselect_poller *p)
{
    if (!p) {
        upy__raise(UPY__E_NULL_POLL);
        return NULL;
    }
    return atomic_load_explicit(&((uselect_poller *)p)->data, memory_order_acquire);
}

/* The device raises this for anything without a stream ioctl, None included. */
static int check_stream(usocket *obj)
{
    return obj && sock_is(obj) ? 0 : UPY__E_NOT_STREAM;
}

/* register's work: 0 or a code. */
static int poll_register(uselect_poller *p, usocket *obj, int mask)
{
    int rc = check_stream(obj);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&p->lock);
    struct entry *e = find(p, obj);
    if (e) {
        atomic_store(&e->mask, mask);
        sock_poke(obj->core, &e->watcher);
    } else if (!(e = calloc(1, sizeof *e)) || (p->count >= p->nbuckets && !grow_buckets(p)) ||
               !take_slot(p, e)) {
        free(e);
        rc = UPY__E_MEMORY;
    } else {
        e->watcher.changed = rearm;
        e->poller = p;
        e->obj = usocket_ref(obj);
        atomic_init(&e->mask, mask);
        size_t at = bucket_of(p, obj);
        e->next_in_bucket = p->buckets[at];
        p->buckets[at] = e;
        p->count++;
        sock_watch(obj->core, &e->watcher);
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

/* register, modify, unregister (mask NULL): the trace's record. */
static int trace_registration(const char *call, const uselect_poller *p, usocket *obj, const int *mask, int rc)
{
    UPY__TRACE_CALL(call, obj && sock_is(obj) ? &obj->core->hs : NULL, rc, {"poller", .num = p->id},
                    {"mask", mask ? OBSERVE_INT : OBSERVE_NONE, .num = mask ? *mask : 0});
    return rc;
}

int uselect_poll_register(uselect_poller *p, usocket *obj, int mask)
{
    int rc = p ? trace_registration("register", p, obj, &mask, poll_register(p, obj, mask)) : UPY__E_NULL_POLL;
    return rc < 0 ? upy__raise(rc) : 0;
}

int uselect_poll_modify(uselect_poller *p, usocket *obj, int mask)
{
    if (!p)
        return upy__raise(UPY__E_NULL_POLL);
    pthread_mutex_lock(&p->lock);
    struct entry *e = obj ? find(p, obj) : NULL;
    if (e) {
        atomic_store(&e->mask, mask);
        sock_poke(obj->core, &e->watcher);
    }
    pthread_mutex_unlock(&p->lock);
    int rc = trace_registration("modify", p, obj, &mask, e ? 0 : -UERRNO_ENOENT);
    return rc < 0 ? upy__raise(rc) : 0;
}

int uselect_poll_unregister(uselect_poller *p, usocket *obj)
{
    if (!p)
        return upy__raise(UPY__E_NULL_POLL);
    pthread_mutex_lock(&p->lock);
    struct entry *e = obj ? find(p, obj) : NULL;
    if (e)
        drop_entry(p, e);
    pthread_mutex_unlock(&p->lock);
    return trace_registration("unregister", p, obj, NULL, 0);
}

/* --- waiting ------------------------------------------------------------------------------ */

/* Writability past the kernel's: lwIP's sendevent follows the device's send buffer
 * (sock_poll_writable), which no kernel event tracks. A socket the kernel calls writable and the
 * device does not is "starved": OUT leaves its kernel set, and waits are cut into slices
 * (1 ms doubling to 16 ms, the device's own poll pass being 1 ms) after which its room is looked
 * at again. So a poll for POLLOUT on a full buffer sleeps instead of spinning, and sees the room
 * come back within a slice. Caller holds p->lock. */
#define RECHECK_MAX_MS 16

static void set_starved(uselect_poller *p, struct entry *e, bool on)
{
    atomic_store(&e->starved, on);
    if (on)
        atomic_fetch_add(&p->nstarved, 1), p->recheck_ms = 1;
    else
        atomic_fetch_sub(&p->nstarved, 1);
    sock_poke(e->obj->core, &e->watcher);
}

/* Gives back OUT to starved entries that have room again; returns how long the next wait may
 * last (-1: no limit). */
static int recheck_starved(uselect_poller *p)
{
    size_t before = atomic_load(&p->nstarved);
    for (size_t i = 0; i < p->nslots && atomic_load(&p->nstarved); i++) {
        struct entry *e = p->slots[i];
        if (e && atomic_load(&e->starved) && (sock_closed(e->obj->core) || sock_poll_writable(e->obj->core)))
            set_starved(p, e, false);
    }
    if (!atomic_load(&p->nstarved))
        return -1;
    int slice = p->recheck_ms;
    if (atomic_load(&p->nstarved) == before && p->recheck_ms < RECHECK_MAX_MS)
        p->recheck_ms *= 2;
    return slice;
}

/* The device's revents for one kernel event, or 0 (stale key, closed socket, nothing asked).
 * Caller holds p->lock. */
static int translate(uselect_poller *p, const host_event *ev, struct entry **found)
{
    uint32_t slot = (uint32_t)ev->key;
    struct entry *e = slot < p->nslots ? p->slots[slot] : NULL;
    if (!e || p->generation[slot] != (uint32_t)(ev->key >> 32))
        return 0;
    struct ucore *c = e->obj->core;
    if (sock_closed(c))
        return 0;
    if (c->hs.type == USOCKET_SOCK_DGRAM && (ev->events & HOST_EV_ERR))
        host_clear_error(&c->hs); /* or the level-triggered set reports it forever */
    *found = e;
    int revents = poll_revents(ev->events, c->hs.type, atomic_load(&e->mask));
    if ((revents & USELECT_POLLOUT) && !(ev->events & (HOST_EV_HUP | HOST_EV_ERR)) && !sock_poll_writable(c)) {
        revents &= ~USELECT_POLLOUT;
        if (!atomic_load(&e->starved))
            set_starved(p, e, true);
    }
    return revents;
}

static void disarm(struct entry *e)
{
    atomic_store(&e->mask, 0);
    sock_poke(e->obj->core, &e->watcher);
}

/* Objects whose TLS layer holds plaintext, when the profile says that counts as readable (the
 * device says it does not: it polls the raw fd). Caller holds p->lock. */
static int buffered_ready(uselect_poller *p, uselect_event *out, int max)
{
    int n = 0;
    for (size_t i = 0; i < p->nslots && n < max; i++) {
        struct entry *e = p->slots[i];
        if (e && e->obj->layer && e->obj->layer->buffered && (atomic_load(&e->mask) & USELECT_POLLIN) &&
            !sock_closed(e->obj->core) && e->obj->layer->buffered(e->obj))
            out[n++] = (uselect_event){e->obj, USELECT_POLLIN};
    }
    return n;
}

/* One wait until d: up to max pairs into out. Disarms one-shot entries unless the caller will. */
static int wait_once(uselect_poller *p, host_deadline d, bool oneshot, uselect_event *out, int max)
{
    host_event evs[HOST_WAIT_MAX_EVENTS];
    if (profile()->poll_tls_buffered_readable || atomic_load_explicit(&p->nstarved, memory_order_relaxed)) {
        pthread_mutex_lock(&p->lock);
        int n = profile()->poll_tls_buffered_readable ? buffered_ready(p, out, max) : 0;
        int slice = recheck_starved(p);
        pthread_mutex_unlock(&p->lock);
        if (n)
            return n;
        host_deadline at = slice >= 0 ? host_deadline_in_ms(slice) : HOST_NEVER;
        d = at < d ? at : d;
    }
    int n = host_wait(&(host_waiter){.on = HOST_WAIT_REACTOR, .fd = p->reactor, .out = evs, .max = max}, d);
    if (n < 0)
        return n;
    int count = 0;
    pthread_mutex_lock(&p->lock);
    for (int i = 0; i < n; i++) {
        struct entry *e = NULL;
        int revents = translate(p, &evs[i], &e);
        if (!revents)
            continue;
        out[count++] = (uselect_event){e->obj, revents};
        if (oneshot)
            disarm(e);
    }
    pthread_mutex_unlock(&p->lock);
    return count;
}

/* For uthread_activity_now: a wait without timeout ends only when a registered object that can
 * still be reported is (an open socket the kernel watches); when there is none, only another
 * thread's register, modify or connect could end it. */
static bool nothing_can_fire(const void *arg)
{
    uselect_poller *p = (uselect_poller *)arg;
    bool none = true;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->nslots && none; i++) {
        struct entry *e = p->slots[i];
        if (e) {
            struct ucore *c = e->obj->core;
            none = poll_interest(sock_state(c), sock_closed(c), atomic_load(&c->eof), atomic_load(&e->mask)) ==
                   POLL_NO_INTEREST;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return none;
}

/* What a poll returned, for the trace: (fileno, revents) pairs in the device's numbers. */
static void trace_poll(const char *call, const uselect_poller *p, int timeout_ms, const uselect_event *ev, int n)
{
    int pairs[OBSERVE_POLL_MAX][2], k = 0;
    for (; k < n && k < OBSERVE_POLL_MAX; k++) {
        pairs[k][0] = sock_fileno(ev[k].obj->core);
        pairs[k][1] = ev[k].revents;
    }
    observe_poll(call, p->id, timeout_ms, n, pairs, k);
}

/* poll's loop: kernel events that mean nothing to the device must not end the wait early. */
static int wait_events(uselect_poller *p, const char *call, int timeout_ms, bool oneshot, uselect_event *out, int max)
{
    host_deadline d = host_deadline_in_ms(timeout_ms);
    if (timeout_ms < 0)
        thread_wait_begin(nothing_can_fire, p);
    int n;
    while ((n = wait_once(p, d, oneshot, out, max)) == 0 && host_deadline_left_ms(d) != 0)
        ;
    if (timeout_ms < 0)
        thread_wait_end();
    if (__builtin_expect(atomic_load_explicit(&observe_tracing, memory_order_relaxed), 0))
        trace_poll(call, p, timeout_ms, out, n);
    return n;
}

int uselect_poll_poll(uselect_poller *p, int timeout_ms, int flags, uselect_event *events, int max)
{
    if (!p)
        return upy__raise(UPY__E_NULL_POLL);
    if (max < 0 || (max > 0 && !events))
        return upy__raise(UPY__E_INVALID_ARGS);
    if (max == 0)
        return 0;
    int n = wait_events(p, "poll", timeout_ms, flags & USELECT_FLAG_ONESHOT, events, max);
    return n < 0 ? upy__raise(n) : n;
}

int uselect_poll_ipoll(uselect_poller *p, int timeout_ms, int flags)
{
    if (!p)
        return upy__raise(UPY__E_NULL_POLL);
    pthread_mutex_lock(&p->lock);
    int room = (int)(p->count ? p->count : 1);
    uselect_event *buf = realloc(p->ipoll_events, (size_t)room * sizeof *buf);
    if (buf)
        p->ipoll_events = buf;
    pthread_mutex_unlock(&p->lock);
    if (!buf)
        return upy__raise(UPY__E_MEMORY);
    p->ipoll_count = p->ipoll_next = 0;
    int n = wait_events(p, "ipoll", timeout_ms, false, p->ipoll_events, room);
    if (n < 0)
        return upy__raise(n);
    p->ipoll_count = n;
    p->ipoll_flags = flags;
    return n;
}

const uselect_event *uselect_poll_next(uselect_poller *p)
{
    if (!p || p->ipoll_next >= p->ipoll_count)
        return NULL;
    p->ipoll_tuple = p->ipoll_events[p->ipoll_next++];
    if (p->ipoll_flags & USELECT_FLAG_ONESHOT) {
        pthread_mutex_lock(&p->lock);
        struct entry *e = find(p, p->ipoll_tuple.obj);
        if (e)
            disarm(e);
        pthread_mutex_unlock(&p->lock);
    }
    return &p->ipoll_tuple;
}

/* --- select ------------------------------------------------------------------------------- */

/* Register every object of one list with its list's bits OR-ed into any earlier mask. 0 or a
 * code. */
static int merge(uselect_poller *p, usocket **list, int n, int bits)
{
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        if ((rc = check_stream(list[i])) < 0)
            break;
        pthread_mutex_lock(&p->lock);
        struct entry *e = find(p, list[i]);
        int mask = (e ? atomic_load(&e->mask) : 0) | bits;
        pthread_mutex_unlock(&p->lock);
        rc = poll_register(p, list[i], mask);
    }
    return rc;
}

/* Keep the objects of `list` whose revents have `bits` (or, for bits 0, any bit besides IN/OUT). */
static int keep(usocket **list, int n, const uselect_event *ev, int nev, int bits)
{
    int kept = 0;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < nev; j++) {
            int hit = bits ? ev[j].revents & bits : ev[j].revents & ~(USELECT_POLLIN | USELECT_POLLOUT);
            if (ev[j].obj == list[i] && hit) {
                list[kept++] = list[i];
                break;
            }
        }
    }
    return kept;
}

int uselect_select(usocket **rlist, int *nr, usocket **wlist, int *nw, usocket **xlist, int *nx, double timeout_s)
{
    if (!nr || !nw || !nx || *nr < 0 || *nw < 0 || *nx < 0 || (*nr && !rlist) || (*nw && !wlist) ||
        (*nx && !xlist) || isnan(timeout_s))
        return upy__raise(UPY__E_NOT_LIST);
    int rc;
    uselect_poller *p = poller_new(&rc);
    if (!p)
        return upy__raise(rc);
    int total = *nr + *nw + *nx;
    uselect_event *ev = malloc((size_t)(total ? total : 1) * sizeof *ev);
    if (!ev)
        rc = UPY__E_MEMORY;
    else if ((rc = merge(p, rlist, *nr, USELECT_POLLIN)) == 0 && (rc = merge(p, wlist, *nw, USELECT_POLLOUT)) == 0 &&
             (rc = merge(p, xlist, *nx, USELECT_POLLERR | USELECT_POLLHUP)) == 0) {
        double ms = timeout_s * 1000.0;
        int timeout_ms = timeout_s < 0 ? -1 : ms >= INT32_MAX ? INT32_MAX : (int)ms;
        rc = wait_events(p, "select", timeout_ms, false, ev, total ? total : 1);
        if (rc >= 0) {
            *nr = keep(rlist, *nr, ev, rc, USELECT_POLLIN);
            *nw = keep(wlist, *nw, ev, rc, USELECT_POLLOUT);
            *nx = keep(xlist, *nx, ev, rc, 0);
            rc = *nr + *nw + *nx;
        }
    }
    free(ev);
    poller_free(p);
    return rc < 0 ? upy__raise(rc) : rc;
}
