/*
 * Watching the seam (docs/observe.md): a JSON Lines trace of its events, a pcap of the virtual
 * LAN as the board would see it, and a TLS key log. Each output is a sink written one whole
 * record per write(2), so a file is complete while the program runs and after it is killed, and
 * a failing write never fails the call being watched: the sink closes with one message.
 */
#ifndef UPYSOCK_OBSERVE_H
#define UPYSOCK_OBSERVE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host.h"

/* A sink (obs_sink.c): one output file or descriptor, replaceable while other threads write.
 * Two slots: writers use the active one and count themselves in it; a replacement fills the
 * other, makes it active, and closes the old descriptor only when no write on it is in flight,
 * so no record ever goes to a closed descriptor, or to a file that reused its number. */
typedef struct obs_sink {
    atomic_int active;        /* the slot writers use */
    atomic_int fd[2];         /* -1: off, or stopped by a failed write */
    atomic_uint writers[2];   /* writes in flight on each slot */
    atomic_bool plain[2];     /* the slot's fd cannot raise SIGPIPE (a file): one write(2) a record */
    int owned[2];             /* the descriptor to close when the slot is retired, -1: not ours */
    pthread_mutex_t replacing; /* one replacement at a time; guards owned */
    const char *name;         /* "trace", "pcap", "keylog": for the one message when it fails */
} obs_sink;
#define OBS_SINK_INIT(label) \
    {.fd = {-1, -1}, .owned = {-1, -1}, .replacing = PTHREAD_MUTEX_INITIALIZER, .name = (label)}

/* Open spec for s: "" (off), "stderr", "fd:N" (when std_ok), or a path (truncated, or appended
 * to with append), with head (headlen bytes, e.g. a file header) written before any record.
 * 0, or -1 with err filled. */
int obs_sink_open(obs_sink *s, const char *spec, bool std_ok, bool append, const void *head, size_t headlen,
                  char *err, size_t errsize);
/* One record, one write(2); a short or failed write ends the sink with one message on stderr. */
void obs_sink_write(obs_sink *s, const void *rec, size_t len);
bool obs_sink_on_recheck(obs_sink *s); /* obs_sink_on's slow path */
static inline bool obs_sink_on(obs_sink *s)
{
    int at = atomic_load_explicit(&s->active, memory_order_relaxed);
    return atomic_load_explicit(&s->fd[at], memory_order_relaxed) >= 0 || obs_sink_on_recheck(s);
}

/* The settings (observe.c), applied by config.c: 0, or -1 with err filled. */
int observe_set_trace(const char *spec, char *err, size_t errsize);
int observe_set_trace_data(const char *count, char *err, size_t errsize);
int observe_set_pcap(const char *path, char *err, size_t errsize);
int observe_set_keylog(const char *path, char *err, size_t errsize);
void observe_set_device_ip(uint32_t ip); /* the board's own address, host order */
/* The virtual LAN's mapping back (vnet.c): the pcap names a datagram's source as recvfrom does. */
void observe_set_map_in(host_addr (*map)(host_addr));

/* An exception raised at a public entry point (upy.c): a trace record of its own. */
extern atomic_bool observe_tracing;
void observe_raised(const char *type, int code, const char *message);
/* A poll's outcome (uselect.c): the call ("poll", "ipoll", "select"), the poll object's id,
 * result (events, or a negative device errno) and up to OBSERVE_POLL_MAX (fileno, revents) pairs. */
enum { OBSERVE_POLL_MAX = 32 };
void observe_poll(const char *call, unsigned poller, int timeout_ms, int result, const int pairs[][2], int n);
/* A public call that no seam hook records (usocket.c, uselect.c, ussl.c through upy.c): its
 * name, the socket it acted on (NULL: none), its arguments, and its result: >= 0, or -1 with
 * the device errno in err (0: the exception is not an OSError with an errno; the raise record
 * after it says what it is). An OBSERVE_DATA argument (num bytes at text: the payload moved)
 * comes after the result, cut to UPYSOCK_TRACE_DATA's count, as in the seam's records. */
typedef struct observe_arg {
    const char *key;
    enum { OBSERVE_INT, OBSERVE_TEXT, OBSERVE_ADDR, OBSERVE_DATA, OBSERVE_NONE /* left out */ } kind;
    long long num;
    const char *text; /* NULL: left out */
    host_addr addr;
} observe_arg;
void observe_call(const char *call, const host_sock *s, const observe_arg *args, int n, long long result, int err);
/* A virtual-LAN decision (vnet.c): "connect", "bind", ... device "a.b.c.d:p" → host (NULL:
 * none, a name that did not resolve). */
void observe_vnet(const char *verb, const char *device, const host_addr *host);

/* One NSS key log line from OpenSSL (tls_ctx.c). */
void observe_keylog(const char *line);

/* The trace's writer (trace.c): a record is built with these, then ended. */
typedef struct trace_rec {
    char *buf;            /* head, or the heap once a field needs more (data, long revents) */
    size_t len, size;
    bool cut;             /* a field did not fit and was left out, or was shortened */
    char head[1024];
} trace_rec;
void trace_begin(trace_rec *r, const char *call, const host_sock *s);
void trace_str(trace_rec *r, const char *key, const char *value);
void trace_int(trace_rec *r, const char *key, long long value);
void trace_addr(trace_rec *r, const char *key, host_addr a);   /* "a.b.c.d:port" */
void trace_ip(trace_rec *r, const char *key, uint32_t ip);      /* "a.b.c.d" */
void trace_bytes(trace_rec *r, const char *key, const void *data, size_t len);
void trace_pairs(trace_rec *r, const char *key, const int pairs[][2], int n); /* [[a,b],...] */
void trace_result(trace_rec *r, long long result, int kernel_errno); /* result < 0: a device errno */
void trace_end(trace_rec *r, obs_sink *to);

/* The frame synthesiser (frame.c): one IPv4 packet (LINKTYPE_RAW) into out, its length. */
enum { FRAME_FIN = 1, FRAME_SYN = 2, FRAME_RST = 4, FRAME_PSH = 8, FRAME_ACK = 16 };
enum { FRAME_MAX = 20 + 20 + 1460 };
size_t frame_tcp(uint8_t *out, host_addr src, host_addr dst, uint32_t seq, uint32_t ack, int flags,
                 const void *data, size_t len);
size_t frame_udp(uint8_t *out, host_addr src, host_addr dst, const void *data, size_t len);

/* The pcap of the virtual LAN (pcap.c): events in device terms. */
int pcap_open(const char *path, char *err, size_t errsize);
bool pcap_on(void);
void pcap_set_device_ip(uint32_t ip);
void pcap_set_map_in(host_addr (*map)(host_addr)); /* a host address as the device knows it */
enum { PCAP_CONNECTED, PCAP_PENDING, PCAP_REFUSED };
void pcap_connected(host_sock *s, int outcome);     /* after a connect: how it went */
void pcap_accepted(host_sock *child);              /* after an accept */
void pcap_sending(host_sock *s);                    /* before a datagram goes out */
void pcap_data(host_sock *s, bool sent, const void *data, size_t len, const host_addr *addr);
void pcap_end(host_sock *s, bool sent, bool reset); /* FIN or RST, sent by s or by its peer */
void pcap_closed(host_sock *s);                     /* s is gone: FIN if none was sent */
void pcap_dropped(const host_sock *s);              /* the link went down under s: nothing more */

#endif
