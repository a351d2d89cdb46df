/*
 * The device's poll rules as two pure functions (SEMANTICS §4.3, §13 "Poll translation"), kept
 * apart from the bookkeeping so they can be tested on their own.
 *
 * Kernel readiness is not device readiness: Linux reports EPOLLOUT|EPOLLHUP for a fresh socket,
 * EPOLLERR, and POLLNVAL for closed fds; lwIP reports none of those. On Linux a TCP socket that
 * died (RST, refused, aborted) sits in TCP_CLOSE and reports IN|OUT|HUP on every poll — the same
 * sticky IN|OUT|HUP lwIP's errevent gives — so the kernel can carry that state for us, as long
 * as sockets whose TCP_CLOSE means "never connected" are kept out of the kernel's set.
 */
#ifndef UPYSOCK_USELECT_RULES_H
#define UPYSOCK_USELECT_RULES_H

#include <stdbool.h>

/* Returned by poll_interest when the kernel must not watch the socket at all. */
#define POLL_NO_INTEREST (-1)

/* What the kernel must watch (HOST_EV_IN/OUT; HUP and ERR always come) for a socket in device
 * state `state` (enum sock_state), registered with `mask`. `eof`: the peer's FIN has been read,
 * after which lwIP no longer reports the socket readable (Linux would, forever). */
int poll_interest(int state, bool closed, bool eof, int mask);

/* The device's revents for kernel events `host_events` (HOST_EV_*) on a socket of `type`
 * (USOCKET_SOCK_STREAM / DGRAM) registered with `mask`. */
int poll_revents(int host_events, int type, int mask);

#endif
