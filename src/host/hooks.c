/*
 * The hook points' one switch (host.h, struct host_hooks). A pointer rather than a flag per kind:
 * the seam's fast paths test one relaxed load for "anything installed".
 *
 * Two layers share it: the inner one (host_hooks_install: fault injection, test hooks) and the
 * outer one (host_hooks_install_outer: the observers). The switch points at the outer table when
 * there is one; its hooks hand each call to the inner table's hook (host_hooks_inner) with the
 * kernel's `next`, so what a fault makes of a call is what the trace and the pcap record (an
 * injected reset is an RST in the pcap).
 */
#include <pthread.h>
#include <stdatomic.h>

#include "host.h"

const struct host_hooks *_Atomic host_hooks_on;
static const struct host_hooks *_Atomic inner, *_Atomic outer;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void set(const struct host_hooks *_Atomic *layer, const struct host_hooks *hooks)
{
    pthread_mutex_lock(&lock);
    atomic_store_explicit(layer, hooks, memory_order_release);
    const struct host_hooks *top = atomic_load_explicit(&outer, memory_order_relaxed);
    atomic_store_explicit(&host_hooks_on, top ? top : atomic_load_explicit(&inner, memory_order_relaxed),
                          memory_order_release);
    pthread_mutex_unlock(&lock);
}

void host_hooks_install(const struct host_hooks *hooks)
{
    set(&inner, hooks);
}

void host_hooks_install_outer(const struct host_hooks *hooks)
{
    set(&outer, hooks);
}

const struct host_hooks *host_hooks_inner(void)
{
    return atomic_load_explicit(&inner, memory_order_acquire);
}

void host_fault_fired(const host_sock *s, const char *effect, int rule)
{
    const struct host_hooks *o = atomic_load_explicit(&outer, memory_order_acquire);
    if (o && o->fault)
        o->fault(s, effect, rule);
}
