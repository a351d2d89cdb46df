/*
 * The hook points' one switch (host.h, struct host_hooks). A pointer rather than a flag per kind:
 * the seam's fast paths test one relaxed load for "anything installed", and the modules that
 * observe or fault the seam (trace, fault injection, pcap) compose their hooks into one table.
 */
#include <stdatomic.h>

#include "host.h"

const struct host_hooks *_Atomic host_hooks_on;

void host_hooks_install(const struct host_hooks *hooks)
{
    atomic_store_explicit(&host_hooks_on, hooks, memory_order_release);
}
