/*
 * The wire (wire.c): a delay line at the host seam, for fault injection's `delay` (slow Wi-Fi).
 * A wired connection's device socket is the near end of a private loopback TCP connection; the
 * wire owns the far end and the real connection, and moves the handshake and the bytes between
 * them each way at their due time: latency, jitter and a bandwidth cap, with at most a window's
 * worth in flight. So the
 * device's fd stays a real TCP socket (modes, timeouts, poll and TLS need nothing) and its bytes
 * simply arrive late, readable and pollable only when due. One thread moves every wired byte,
 * waiting in epoll until the next one is due: nothing spins.
 */
#ifndef UPYSOCK_HOST_WIRE_H
#define UPYSOCK_HOST_WIRE_H

#include <stdint.h>

#include "host.h"

enum { HOST_WIRE_OUT, HOST_WIRE_IN }; /* device → peer, peer → device */

/* One direction of the line. */
struct host_wire_way {
    uint64_t latency_us, jitter_us; /* each chunk arrives latency + a draw in [0, jitter] late */
    long rate;                      /* bytes per second; 0: no cap */
};

struct host_wire_spec {
    struct host_wire_way way[2]; /* [HOST_WIRE_OUT], [HOST_WIRE_IN] */
    int window;                  /* bytes held in flight per direction (the board's TCP window) */
    int chunk;                   /* the most one chunk holds (a segment: the board's MSS) */
    /* The jitter's draws: draw(seed, way, n) for the way's nth chunk, so the same seed gives the
     * same jitter sequence (the timing itself is the machine's). */
    uint64_t seed;
    uint64_t (*draw)(uint64_t seed, int way, uint64_t n);
};

/* Connect s to `to` through a new wire, the handshake crossing it: s connects (through `next`,
 * the kernel's connect) to the wire's stall, so every registration s already has (a poll
 * object's epoll set) stays valid, and stays connecting until the wire answers, the round trip
 * later; the wire connects to `to` itself from s's own address and port (s is bound first when
 * it is not). A blocking s waits for the answer (its send timeout, or host_shutdown from another
 * thread, ends the wait as they end the kernel's); a non-blocking one is in progress until then.
 * A failed real connect fails s's as refused. s->peer becomes `to`. 0, -EINPROGRESS, or a
 * negative device errno. */
int host_wire_connect(host_sock *s, host_addr to, const struct host_wire_spec *spec,
                      int (*next)(host_sock *, host_addr));

/* Put a just-accepted connection behind a new wire: child->fd becomes the near end (blocking, no
 * timeouts, as accept leaves it); child->local and child->peer are the real connection's. 0, or a negative device
 * errno (the connection is then closed). */
int host_wire_accept(host_sock *child, const struct host_wire_spec *spec);

#endif
