/*
 * upysock-bench: every workload run through upysock and through raw syscalls / raw OpenSSL in
 * one process, alternating, so both sides see the same machine at the same moment.
 *
 * A scenario is written once against `struct net_ops` (and `struct poll_ops` for pollscale); a
 * side is a table of those calls. The upysock table and the raw table differ only in the I/O
 * calls, so whatever the harness does around them (threads, buffers, timing) is the same code.
 */
#ifndef UPYSOCK_BENCH_H
#define UPYSOCK_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>
#include <upysock/usocket.h>

/* A socket of either side: a usocket, a kernel fd, or a raw OpenSSL connection. */
typedef union bsock {
    usocket *u;
    int fd;
    SSL *ssl;
} bsock;

/* The calls a scenario makes, blocking, as a tutorial would. Failures return -1 (the side has
 * printed why). */
struct net_ops {
    const char *side; /* "upysock" or "raw" */
    int (*listen)(int port, int backlog, bsock *out);
    int (*accept)(bsock listener, bsock *out);      /* TLS tables: + the server handshake */
    int (*connect)(int port, bsock *out);           /* TLS tables: + the client handshake */
    ssize_t (*send)(bsock s, const void *buf, size_t len); /* all of it, as a blocking send does */
    ssize_t (*recv)(bsock s, void *buf, size_t len);
    void (*close)(bsock s);                         /* close and drop a connected socket */
    void (*close_listener)(bsock s);
    int (*spawn)(int (*fn)(void *), void *arg);     /* a detached thread: _thread.start_new_thread */
    int (*open_tcp)(bsock *out);                    /* an unconnected TCP socket (memory) */
    int (*open_idle)(bsock *out);                   /* a UDP socket bound on loopback (pollscale) */
};

/* A poller over one side's sockets, for pollscale. Registrations are for POLLIN; `tag` is what
 * wait() reports when that socket is readable. */
struct poll_ops {
    const char *name; /* "upysock", "raw-epoll", "raw-poll" */
    const struct net_ops *net;
    void *(*create)(int capacity);
    int (*add)(void *poller, bsock s, int tag);
    int (*wait)(void *poller); /* blocks; the tag of a readable socket, or -1 */
    void (*destroy)(void *poller);
};

extern const struct net_ops raw_plain_ops, raw_tls_ops, upy_plain_ops, upy_tls_ops;
extern const struct poll_ops raw_epoll_ops, raw_poll_ops;
#ifdef BENCH_HAVE_USELECT
extern const struct poll_ops upy_poll_ops;
#endif

/* --- the run ----------------------------------------------------------------------------- */

struct bench_config {
    bool quick;   /* seconds, for CI: small sizes, few rounds */
    int rounds;   /* measured rounds per side */
    int pin_cpu;  /* -1: not pinned */
    const char *only; /* run just this side (for perf / callgrind), or NULL */
    bool aa;          /* A/A: raw in the upysock slot too, to measure the noise floor */
};
extern struct bench_config bench_cfg;

/* A point in time on two clocks: the wall clock, and the CPU time of the whole process (every
 * thread). With all threads pinned on one CPU, CPU time leaves out the time other processes
 * took that CPU away: a steadier figure on a shared machine, reported beside the wall one. */
struct stamp {
    double wall, cpu;
};
struct stamp stamp_now(void);

/* One measured run: `value` in the case's unit over wall time (< 0: failed), `cpu_value` the
 * same over process CPU time (NaN where it means nothing, e.g. memory), and `op_min` the
 * fastest single operation in seconds where the scenario times each one (else NaN): on a noisy
 * machine the minimum is the steadiest view of an operation's own cost. */
struct sample {
    double value, cpu_value, op_min;
};
struct sample sample_rate(double work, struct stamp t0, struct stamp t1);
#define SAMPLE_FAILED ((struct sample){-1, -1, NAN})

#define BENCH_MAX_SIDES 4

/* One comparison: sides[0] is upysock, the others are raw ways of doing the same work. run()
 * performs one measured run of one side. Sides from `nprinted` on (when set) are measured in
 * the same rounds but printed only through the extra keys (pollscale's upysock at K = 1). */
struct bench_case {
    const char *scenario;
    char variant[64]; /* "" when the scenario has only one */
    const char *unit;
    int nsides, nprinted;
    const void *sides[BENCH_MAX_SIDES]; /* what run() gets: a net_ops, or the scenario's own */
    const char *side_names[BENCH_MAX_SIDES];
    struct sample (*run)(const struct bench_case *bc, const void *side);
    const void *params; /* the scenario's own */
};

/* Medians of each side over the rounds. */
struct bench_result {
    double median[BENCH_MAX_SIDES];
    double cpu_median[BENCH_MAX_SIDES];
    double min_ratio[BENCH_MAX_SIDES], max_ratio[BENCH_MAX_SIDES]; /* per-round upysock/side */
    double paired_ratio[BENCH_MAX_SIDES]; /* the median of the per-round ratios */
    double op_min[BENCH_MAX_SIDES];       /* the fastest operation of all rounds (NaN: none) */
    int rounds;
    int only; /* --only: the side that ran (-2: none of this case's), else -1 */
};

/* Warm up, then run every side bench_cfg.rounds times, alternating and rotating the order.
 * 0, or -1 when a run failed (reported on stderr). */
int bench_measure(const struct bench_case *bc, struct bench_result *out);

/* Print one JSON line per raw side. `extra` (may be NULL) is appended inside the object for
 * side i, e.g. "\"vs_k1\":0.98" — it gets i and must write at most `size` bytes. */
void bench_print(const struct bench_case *bc, const struct bench_result *r,
                 void (*extra)(const struct bench_case *bc, const struct bench_result *r, int side,
                               char *buf, size_t size));

/* The line a scenario prints when it cannot run. */
void bench_print_skipped(const char *scenario, const char *variant, const char *reason);

/* Measure and print, in one call, for the cases with no extra keys. -1 on failure. */
int bench_compare(const struct bench_case *bc);

/* --- helpers ----------------------------------------------------------------------------- */

double now_s(void);
int free_port(void);                       /* a TCP port free on 127.0.0.1 right now */
long rss_bytes(void);                      /* resident set size of the process */
void bench_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *xcalloc(size_t n, size_t size);      /* exits when out of memory: setup, not measured */
ssize_t recv_full(const struct net_ops *ops, bsock s, void *buf, size_t len); /* until len or EOF */

/* Joinable harness threads (servers, senders): the same pthreads for both sides. */
typedef struct bench_thread bench_thread;
bench_thread *thread_start(void *(*fn)(void *), void *arg);
void *thread_join(bench_thread *t);

/* TLS fixture: a CA and a server certificate (ECDSA P-256) generated at run time in a temp dir,
 * removed at exit, and the process-wide OpenSSL defaults (an openssl.cnf there). Must run before
 * any other OpenSSL call: main() calls it first when a TLS scenario is selected. */
struct tls_fixture {
    char dir[64];
    char ca[96], cert[96], key[96], conf[96];
};
extern struct tls_fixture tls_fx;
int tls_fixture_init(void);

/* What a handshake through `side` negotiates, checked against a raw OpenSSL end in both roles:
 * 0 when both give BENCH_TLS_CIPHER on BENCH_TLS_GROUP, else -1 (reported). */
int tls_check_negotiation(const struct net_ops *side);

/* The TLS settings every side uses: TLS 1.2, ECDHE-ECDSA-AES128-GCM-SHA256 on P-256, no
 * session resumption. */
#define BENCH_TLS_CIPHER "ECDHE-ECDSA-AES128-GCM-SHA256"
#define BENCH_TLS_GROUP "P-256"

/* A raw OpenSSL context for one end, configured as above (the raw side's idiom: made once). */
SSL_CTX *raw_tls_ctx(bool server);

/* The peer process for the TLS memory scenario (argv: --tls-peer PORT). */
int tls_peer_main(int port);

/* Scenarios: each prints its JSON lines and returns 0, or -1 when one of its runs failed. */
int scenario_echo(void);
int scenario_bulk(void);
int scenario_accept(void);
int scenario_pollscale(void);
int scenario_tls_handshake(void);
int scenario_tls_bulk(void);
int scenario_memory(void);

/* Shared by bulk and tls_bulk. */
int bulk_compare(const char *scenario, const char *variant, const struct net_ops *upy,
                 const struct net_ops *raw, size_t total, size_t chunk);

/* upysock configuration for a scenario: the pycom-1.20.2 profile with the given limits raised
 * (0 keeps the board's value; recv_cap -1 lifts the cap). */
int upy_profile_for(int max_sockets, long recv_cap);

#endif
