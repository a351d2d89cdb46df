/*
 * Socket objects: lifetime, the fileno slots, calls in flight, state transitions.
 */
#include <stdlib.h>
#include <string.h>

#include "host/host.h"
#include "internal.h"
#include "sock.h"

#define SOCK_MAGIC 0x75736f6bu /* "usok" */
#define SOCK_DEAD 0xdeadbeefu

/* --- fileno slots ---------------------------------------------------------------------------
 * lwIP has max_sockets slots and hands out the oldest free one (ESP_THREAD_SAFE alloc_socket),
 * so fileno() rotates through 54..63. A FIFO of free slot numbers gives the same order. The
 * limit can change at run time: the FIFO holds the free slots below the limit it was arranged
 * for, free slots at or above it wait on a stack, and only a change of limit moves them. */
struct slot_list {
    int *at;
    size_t cap, head, len; /* head is used by the FIFO only */
};

static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot_list fifo, parked;
static int slots_made, slots_used, arranged_limit;

static bool list_grow(struct slot_list *l)
{
    if (l->len < l->cap)
        return true;
    size_t cap = l->cap ? l->cap * 2 : 16;
    int *grown = malloc(cap * sizeof *grown);
    if (!grown)
        return false;
    for (size_t i = 0; i < l->len; i++)
        grown[i] = l->at[(l->head + i) % l->cap];
    free(l->at);
    l->at = grown, l->cap = cap, l->head = 0;
    return true;
}

static bool fifo_push(int slot)
{
    if (!list_grow(&fifo))
        return false;
    fifo.at[(fifo.head + fifo.len++) % fifo.cap] = slot;
    return true;
}

static int fifo_pop(void)
{
    int slot = fifo.at[fifo.head];
    fifo.head = (fifo.head + 1) % fifo.cap, fifo.len--;
    return slot;
}

/* A free slot goes where the current arrangement wants it. False only when out of memory. */
static bool slot_release(int slot)
{
    if (slot < arranged_limit)
        return fifo_push(slot);
    if (!list_grow(&parked))
        return false;
    parked.at[parked.len++] = slot;
    return true;
}

/* Re-sort the free slots for a new limit, and introduce the slots it adds. */
static void arrange(int limit)
{
    int old = arranged_limit;
    arranged_limit = limit;
    for (size_t n = limit < old ? fifo.len : 0; n > 0; n--) /* lowered: park what is now too high */
        slot_release(fifo_pop());
    for (size_t i = 0; i < parked.len && limit > old;) { /* raised: unpark what fits again */
        if (parked.at[i] < limit && fifo_push(parked.at[i]))
            parked.at[i] = parked.at[--parked.len];
        else
            i++;
    }
    while (slots_made < limit && fifo_push(slots_made))
        slots_made++;
}

static int slot_alloc(void)
{
    int limit = profile()->max_sockets, slot = -1;
    pthread_mutex_lock(&slot_lock);
    if (limit != arranged_limit)
        arrange(limit);
    if (slots_used < limit && fifo.len > 0) {
        slot = fifo_pop();
        slots_used++;
    }
    pthread_mutex_unlock(&slot_lock);
    return slot;
}

static void slot_free(int slot)
{
    pthread_mutex_lock(&slot_lock);
    slots_used--;
    /* Needs memory only if the limit moved since the slot was taken; out of it, the slot
     * number is lost, which only shrinks the pool. */
    slot_release(slot);
    pthread_mutex_unlock(&slot_lock);
}

/* --- objects ------------------------------------------------------------------------------ */

struct plain_socket {
    usocket obj;
    struct ucore core;
};

int sock_new(host_sock *hs, enum sock_state state, int timeout_ms, int slot_errno, usocket **out)
{
    int slot = slot_alloc();
    struct plain_socket *p = slot < 0 ? NULL : calloc(1, sizeof *p);
    if (!p) {
        if (slot >= 0)
            slot_free(slot);
        host_abort(hs);
        return -(slot < 0 ? slot_errno : UERRNO_ENOMEM);
    }
    struct ucore *c = &p->core;
    atomic_init(&c->io, 2u); /* the owner's reference, dropped by close */
    c->hs = *hs;
    c->hs.fileno = profile()->fileno_base + slot;
    c->slot = slot;
    atomic_init(&c->state, state);
    atomic_init(&c->fatal, 0);
    atomic_init(&c->kernel_mode, -1);
    atomic_init(&c->kernel_timeouts, 0);
    atomic_init(&c->reuse_chosen, false);
    pthread_mutex_init(&c->lock, NULL);
    p->obj.magic = SOCK_MAGIC;
    atomic_init(&p->obj.refs, 1);
    p->obj.core = c;
    atomic_init(&p->obj.timeout_ms, timeout_ms);
    *out = &p->obj;
    return 0;
}

usocket *sock_wrap(usocket *plain, const struct sock_layer *layer, void *ctx)
{
    usocket *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->magic = SOCK_MAGIC;
    atomic_init(&s->refs, 1);
    s->core = plain->core;
    atomic_init(&s->timeout_ms, atomic_load(&plain->timeout_ms));
    s->layer = layer;
    s->layer_ctx = ctx;
    sock_hold(plain);
    s->wrapped = plain;
    return s;
}

struct ucore *sock_core(usocket *s)
{
    if (!sock_is(s)) {
        upy__raise(s ? UPY__E_NOT_SOCKET : UPY__E_NULL_SOCKET);
        return NULL;
    }
    return s->core;
}

bool sock_is(const usocket *s)
{
    return s && s->magic == SOCK_MAGIC;
}

void sock_hold(usocket *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

usocket *sock_drop(usocket *s)
{
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return NULL;
    return s;
}

usocket *sock_free(usocket *s)
{
    if (s->layer && s->layer->free)
        s->layer->free(s);
    s->magic = SOCK_DEAD;
    usocket *plain = s->wrapped;
    if (plain) {
        free(s);
        return plain;
    }
    pthread_mutex_destroy(&s->core->lock);
    free((struct plain_socket *)(void *)s);
    return NULL;
}

/* --- calls in flight, close --------------------------------------------------------------- */

struct ucore *sock_enter(usocket *s)
{
    struct ucore *c = sock_core(s);
    if (!c)
        return NULL;
    unsigned prior = atomic_fetch_add_explicit(&c->io, 2u, memory_order_acquire);
    if (prior & 1u) {
        sock_leave(c);
        upy__raise(-UERRNO_EBADF);
        return NULL;
    }
    return c;
}

void sock_leave(struct ucore *c)
{
    /* Closed, and this was the last call (the owner's share went with close): the fd goes, once;
     * a call refused on the closed socket passes through 3 too. */
    if (atomic_fetch_sub_explicit(&c->io, 2u, memory_order_acq_rel) == 3u &&
        !atomic_exchange_explicit(&c->fd_gone, true, memory_order_acq_rel))
        host_close(&c->hs);
}

static void notify(struct ucore *c)
{
    for (struct sock_watcher *w = c->watchers; w; w = w->next)
        w->changed(w, c);
}

void sock_close(struct ucore *c)
{
    unsigned prior = atomic_fetch_or_explicit(&c->io, 1u, memory_order_acq_rel);
    if (prior & 1u)
        return;
    /* Calls blocked on the fd wake up (and see the closed bit); with none in flight the close
     * below is the only kernel call. */
    if ((prior >> 1) > 1)
        host_shutdown(&c->hs);
    slot_free(c->slot);
    pthread_mutex_lock(&c->lock);
    notify(c);
    pthread_mutex_unlock(&c->lock);
    sock_leave(c); /* the owner's share */
}

int sock_transition(struct ucore *c, int from, enum sock_state to)
{
    pthread_mutex_lock(&c->lock);
    int prior = atomic_load_explicit(&c->state, memory_order_relaxed);
    if (from < 0 || prior == from) {
        atomic_store_explicit(&c->state, to, memory_order_release);
        if (prior != (int)to)
            notify(c);
    }
    pthread_mutex_unlock(&c->lock);
    return prior;
}

int sock_mark_failed(struct ucore *c, int err)
{
    int none = 0;
    atomic_compare_exchange_strong(&c->fatal, &none, err);
    sock_transition(c, -1, SOCK_FAILED);
    return atomic_load(&c->fatal);
}

void sock_took_eof(struct ucore *c)
{
    if (atomic_exchange(&c->eof, true))
        return;
    pthread_mutex_lock(&c->lock);
    notify(c);
    pthread_mutex_unlock(&c->lock);
}

int sock_refresh_connect(struct ucore *c)
{
    int rc = host_connect_result(&c->hs);
    if (rc == -UERRNO_EINPROGRESS)
        return SOCK_CONNECTING;
    if (rc < 0) {
        sock_mark_failed(c, -rc);
        return SOCK_FAILED;
    }
    sock_transition(c, SOCK_CONNECTING, SOCK_CONNECTED);
    return sock_state(c);
}

int sock_set_kernel_mode(struct ucore *c, int timeout_ms)
{
    /* Only the kernel calls that change something: O_NONBLOCK when the fd changes sides, the
     * timeouts when a blocking mode wants other values than the fd has (or may have). */
    bool non_blocking = timeout_ms == 0;
    int want = timeout_ms > 0 ? timeout_ms : 0, rc = 0;
    if ((atomic_load_explicit(&c->kernel_mode, memory_order_relaxed) == 0) != non_blocking)
        rc = host_set_nonblocking(&c->hs, non_blocking);
    if (rc == 0 && !non_blocking && atomic_load_explicit(&c->kernel_timeouts, memory_order_relaxed) != want) {
        rc = host_set_timeouts(&c->hs, want);
        if (rc == 0)
            atomic_store_explicit(&c->kernel_timeouts, want, memory_order_relaxed);
    }
    if (rc < 0)
        return rc;
    atomic_store_explicit(&c->kernel_mode, timeout_ms, memory_order_relaxed);
    return 0;
}

void sock_watch(struct ucore *c, struct sock_watcher *w)
{
    pthread_mutex_lock(&c->lock);
    w->next = c->watchers;
    c->watchers = w;
    w->changed(w, c); /* a new watcher hears the state it starts from */
    pthread_mutex_unlock(&c->lock);
}

void sock_poke(struct ucore *c, struct sock_watcher *w)
{
    pthread_mutex_lock(&c->lock);
    w->changed(w, c);
    pthread_mutex_unlock(&c->lock);
}

void sock_unwatch(struct ucore *c, struct sock_watcher *w)
{
    pthread_mutex_lock(&c->lock);
    for (struct sock_watcher **p = &c->watchers; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
}

/* lwIP 2.0.3 clears sendevent when a write leaves tcp_sndbuf <= TCP_SNDLOWAT and sets it again
 * only when an ACK brings it above (api_msg.c sent_tcp, lwip_netconn_do_writemore); the IDF
 * defines TCP_SNDLOWAT per pcb as min(max(sndbuf / 2, 2 * mss + 1), sndbuf - 1) (lwipopts.h).
 * Both moves follow the byte count, so the flag is a function of the room. lwIP's second
 * condition, fewer than TCP_SNDQUEUELOWAT pbufs queued, counts segments Linux does not expose. */
bool sock_poll_writable(const struct ucore *c)
{
    const upy_profile *p = profile();
    int sndbuf = p->tcp_sndbuf;
    if (sndbuf <= 0 || c->hs.type != USOCKET_SOCK_STREAM)
        return true;
    int lowat = sndbuf / 2 > 2 * p->tcp_mss + 1 ? sndbuf / 2 : 2 * p->tcp_mss + 1;
    if (lowat > sndbuf - 1)
        lowat = sndbuf - 1;
    return sock_send_room(c, sndbuf) > lowat;
}

int sock_fileno(struct ucore *c)
{
    return sock_closed(c) ? -1 : profile()->fileno_base + c->slot;
}
