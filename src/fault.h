/*
 * Fault injection: the decision engine (fault.c). It knows the rules and counts events; it never
 * touches a socket. Deterministic: whether a rule fires at an event depends only on the seed,
 * the rule's place in the list and how many events that rule has matched before (a stateless
 * hash, no shared random stream), plus the time window for at=/for=.
 */
#ifndef UPYSOCK_FAULT_H
#define UPYSOCK_FAULT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "faultrule.h"

/* What happens, seen from the device side. */
enum fault_kind {
    FAULT_EV_SOCKET,    /* socket() */
    FAULT_EV_CONNECT,   /* a connect begins */
    FAULT_EV_ACCEPT,    /* accept() */
    FAULT_EV_LINK,      /* a connection is made (connect or accept): picks its delay rules; dir SEND
                           asks for a rule of either direction or both, RECV for a recv-only one */
    FAULT_EV_TRANSFER,  /* a connection's first transfer: picks its reset/fin and stall rules */
    FAULT_EV_SEND,
    FAULT_EV_RECV,
    FAULT_EV_RESOLVE,   /* getaddrinfo */
    FAULT_EV_HANDSHAKE, /* a TLS client's first transfer, its ClientHello: picks its alert rule */
};

struct fault_event {
    enum fault_kind kind;
    uint32_t local_ip, peer_ip; /* device side, host byte order; 0 unknown */
    int local_port, peer_port;  /* 0 unknown */
    const char *host;           /* RESOLVE */
    enum fault_dir dir;         /* SEND, RECV, LINK */
    const struct host_sock *sock; /* the socket the event is on, for the trace; NULL none */
};

/* Set while rules are installed: the hooks are installed exactly then. */
extern atomic_bool fault_active;

/* The engine's rule set: validates, then replaces the set and restarts every count and the time
 * origin. 0, or -1 with a message in err. */
int fault_set_rules(const char *spec, char *err, size_t errsize);

/* Whether some rule has one of `effects` (a mask as below): lets a hook skip what only such a
 * rule needs, e.g. asking the kernel for the socket's mode. */
bool fault_uses(unsigned effects);

/* The first rule among `effects` (a mask of 1 << enum fault_effect) whose selectors match ev and
 * that fires this time; its count advances for every match. A copy goes to *out. */
bool fault_decide(const struct fault_event *ev, unsigned effects, struct fault_rule *out);

/* Whether a linkdown window is open now: the number of its rule (from 1), or 0. *end_us gets its
 * end (monotonic µs), and *next_us the start of the next one still ahead (UINT64_MAX: none). */
int fault_link_down(uint64_t now_us, uint64_t *end_us, uint64_t *next_us);

/* The seeded draw for a (rule, count) pair: what every probabilistic choice uses. */
uint64_t fault_draw(uint64_t seed, int rule, uint64_t n);

/* The program's time origin for at=/for= (when the rules were installed), monotonic µs. */
uint64_t fault_origin_us(void);

/* UPYSOCK_FAULTS and upy_config_faults (faulthooks.c): fault_set_rules, then the hooks installed
 * at the seam exactly while there are rules. */
int fault_configure(const char *spec, char *err, size_t errsize);

#endif
