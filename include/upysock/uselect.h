/*
 * upysock — uselect: poll objects and select() with the Pycom board's event rules (1.20.2.r6).
 *
 * Python                                   C
 *   p = uselect.poll()                       uselect_poller *p = uselect_poll();
 *   p.register(s, POLLIN | POLLOUT)          uselect_poll_register(p, s, USELECT_POLLIN | USELECT_POLLOUT);
 *   for (sock, ev) in p.poll(1000): ...      uselect_event l[8];
 *                                            int n = uselect_poll_poll(p, 1000, 0, l, 8);
 *                                            for (int i = 0; i < n; i++) { l[i].obj ... l[i].revents }
 *
 * The device's rules, not Linux's (docs/uselect.md has the full table):
 *  - only requested bits are reported; POLLERR is never produced;
 *  - POLLHUP only after a fatal error (reset, refused, aborted), and then on every poll;
 *    an orderly close (FIN) is POLLIN, and recv then returns b'';
 *  - a socket that never connected, or whose connect is in progress, reports nothing;
 *  - a socket closed while registered stays registered and is never reported again.
 * A poll object holds a reference to each registered socket until it is unregistered or the
 * poll object is freed, so a closed or released socket is safe to leave registered.
 */
#ifndef UPYSOCK_USELECT_H
#define UPYSOCK_USELECT_H

#include "upy.h"
#include "usocket.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Event bits, device values (py/stream.h). There is no POLLNVAL or POLLPRI. */
enum {
    USELECT_POLLIN = 0x01,
    USELECT_POLLOUT = 0x04,
    USELECT_POLLERR = 0x08, /* accepted in masks, never reported for sockets */
    USELECT_POLLHUP = 0x10,
};

/* register()'s default mask. */
#define USELECT_POLL_DEFAULT (USELECT_POLLIN | USELECT_POLLOUT)

/* poll()/ipoll() flags: bit 0 is one-shot (a reported object's mask becomes 0 until modify). */
#define USELECT_FLAG_ONESHOT 1

/* A poll object. */
typedef struct uselect_poller uselect_poller;

/* One (obj, revents) pair of poll()'s result. */
typedef struct uselect_event {
    usocket *obj; /* the registered object itself (for an SSL socket, the SSL object) */
    int revents;
} uselect_event;

/* uselect.poll(): a new poll object. NULL with an exception if the host is out of resources. */
UPY_API uselect_poller *uselect_poll(void);

/* Free a poll object and drop its references. It must not be in use by another thread. */
UPY_API void uselect_poll_free(uselect_poller *p);

/* A pointer of the caller's own, kept with the poll object; NULL until set. Safe from any thread.
 * NULL p → -1 / NULL, TypeError. */
UPY_API int uselect_poll_set_data(uselect_poller *p, void *data);
UPY_API void *uselect_poll_get_data(const uselect_poller *p);

/* register(obj, mask): watch obj for mask (no default argument in C: USELECT_POLL_DEFAULT).
 * Registering again replaces the mask (and re-arms a one-shot entry). The mask is stored as
 * given. Not a socket → OSError("stream operation not supported"). */
UPY_API int uselect_poll_register(uselect_poller *p, usocket *obj, int mask);

/* modify(obj, mask). Not registered → OSError(2). */
UPY_API int uselect_poll_modify(uselect_poller *p, usocket *obj, int mask);

/* unregister(obj). Not registered → ignored (returns 0). */
UPY_API int uselect_poll_unregister(uselect_poller *p, usocket *obj);

/* poll(timeout_ms, flags) → the number of (obj, revents) pairs written to events (at most
 * max; the rest stay ready for the next call). timeout_ms < 0 waits forever; 0 answers at once;
 * 0 pairs means the timeout expired. Pointers in the result stay valid while registered. */
UPY_API int uselect_poll_poll(uselect_poller *p, int timeout_ms, int flags, uselect_event *events, int max);

/* ipoll(timeout_ms, flags): wait like poll() and keep the result inside the poll object → the
 * number of pairs; read them with uselect_poll_next(). One thread at a time per poll object. */
UPY_API int uselect_poll_ipoll(uselect_poller *p, int timeout_ms, int flags);

/* The next pair of the last ipoll(), or NULL at the end. As on the device the same struct is
 * reused for every pair; with one-shot, each pair's object is disarmed as it is yielded. */
UPY_API const uselect_event *uselect_poll_next(uselect_poller *p);

/* select(rlist, wlist, xlist, timeout_s): each list is an array and its length; on return the
 * arrays hold the objects found ready (readable, writable, "exceptional" = POLLHUP) and the
 * lengths are updated. An object in several lists is polled once with the masks merged.
 * timeout_s < 0 waits forever. Returns *nr + *nw + *nx after the call (0: timed out). Lists may
 * be NULL when their length is 0. */
UPY_API int uselect_select(usocket **rlist, int *nr, usocket **wlist, int *nw, usocket **xlist, int *nx,
                           double timeout_s);

#ifdef __cplusplus
}
#endif

#endif
