/*
 * memory: resident memory added per open socket. Each run opens N sockets, reads the process's
 * RSS before and after, and closes them again; malloc_trim() before the first reading gives the
 * freed heap of earlier runs back, so every run starts from the same place. A second line per
 * kind reads the heap in use instead (mallinfo2): exact bytes, where RSS moves in pages.
 *
 * Plain: N = 1000 unconnected TCP sockets. The kernel's socket memory is not in RSS, so the raw
 * figure is close to zero and upysock's is what the library keeps per socket.
 * TLS: N = 100 connected, handshaken client sockets. Their server is a separate process (this
 * program with --tls-peer) so that only the client ends are in the RSS measured.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>

#include "bench.h"

struct memory_params {
    int n;
    bool tls;
    bool heap; /* measure heap bytes in use (exact) instead of RSS (what the issue asks) */
    int port;
};

/* The heap in use, every arena: the library's own allocations, byte for byte, with none of
 * RSS's page granularity or allocator slack. */
static long heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (long)(mi.uordblks + mi.hblkhd);
}

static struct sample memory_run(const struct bench_case *bc, const void *side)
{
    const struct net_ops *ops = side;
    const struct memory_params *p = bc->params;
    long (*reading)(void) = p->heap ? heap_bytes : rss_bytes;
    bsock *s = xcalloc((size_t)p->n, sizeof *s); /* touched by calloc before the first reading */
    int opened = 0;
    malloc_trim(0);
    long before = reading();
    while (opened < p->n && (p->tls ? ops->connect(p->port, &s[opened]) : ops->open_tcp(&s[opened])) == 0)
        opened++;
    long after = reading();
    for (int i = 0; i < opened; i++)
        ops->close(s[i]);
    free(s);
    if (opened < p->n || before < 0 || after < 0)
        return SAMPLE_FAILED;
    /* Growth below zero (the allocator handing pages back meanwhile) counts as none. */
    double per_socket = after > before ? (double)(after - before) / p->n : 0;
    return (struct sample){per_socket, NAN, NAN};
}

static void excess(const struct bench_case *bc, const struct bench_result *r, int side, char *buf, size_t size)
{
    (void)bc;
    snprintf(buf, size, "\"upysock_minus_raw\":%.1f", r->median[0] - r->median[side]);
}

static int memory_compare(const char *variant, const struct net_ops *upy, const struct net_ops *raw,
                          const struct memory_params *p)
{
    struct bench_case bc = {
        .scenario = "memory",
        .unit = "bytes/socket",
        .nsides = 2,
        .sides = {upy, raw},
        .side_names = {"upysock", "raw"},
        .run = memory_run,
        .params = p,
    };
    snprintf(bc.variant, sizeof bc.variant, "%s", variant);
    struct bench_result r;
    if (bench_measure(&bc, &r) < 0)
        return -1;
    bench_print(&bc, &r, excess);
    return 0;
}

/* --- the TLS peer process ----------------------------------------------------------------- */

#define PEER_MAX 1024

/* Serve handshakes on the inherited listening fd and hold each connection until its client
 * closes. Handshakes are taken one at a time: the clients connect one after another. */
int tls_peer_main(int listen_fd)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    SSL_CTX *ctx = raw_tls_ctx(true);
    struct pollfd fds[PEER_MAX + 1] = {{listen_fd, POLLIN, 0}};
    SSL *ssl[PEER_MAX + 1] = {NULL};
    int n = 1;
    while (ctx && poll(fds, (nfds_t)n, -1) >= 0) {
        for (int i = n - 1; i >= 1; i--) {
            char buf[256];
            if (fds[i].revents && SSL_read(ssl[i], buf, sizeof buf) <= 0) {
                SSL_free(ssl[i]);
                close(fds[i].fd);
                fds[i] = fds[n - 1], ssl[i] = ssl[n - 1], n--;
                ERR_clear_error();
            }
        }
        int fd = fds[0].revents && n <= PEER_MAX ? accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC) : -1;
        SSL *s = fd >= 0 ? SSL_new(ctx) : NULL;
        if (s && SSL_set_fd(s, fd) && SSL_accept(s) == 1) {
            fds[n] = (struct pollfd){fd, POLLIN, 0}, ssl[n++] = s;
        } else if (fd >= 0) {
            SSL_free(s);
            close(fd);
            ERR_clear_error();
        }
    }
    return 1;
}

/* Start the peer on a listening socket made here, so it is listening before we connect. */
static pid_t start_peer(int *port)
{
    bsock listener;
    *port = free_port();
    if (*port < 0 || raw_plain_ops.listen(*port, 128, &listener) < 0)
        return -1;
    int fd = dup(listener.fd); /* without CLOEXEC: the peer inherits it */
    close(listener.fd);
    char fd_arg[16];
    snprintf(fd_arg, sizeof fd_arg, "%d", fd);
    char *argv[] = {"upysock-bench", "--tls-peer", fd_arg, tls_fx.cert, tls_fx.key, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, environ);
    close(fd);
    if (rc != 0) {
        bench_error("cannot start the TLS peer: %s", strerror(rc));
        return -1;
    }
    return pid;
}

static void stop_peer(pid_t pid)
{
    kill(pid, SIGTERM);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

static int memory_tls(void)
{
#ifdef BENCH_HAVE_USSL
    static struct memory_params rss = {.n = 100, .tls = true}, heap = {.n = 100, .tls = true, .heap = true};
    if (tls_fixture_init() < 0)
        return -1;
    pid_t peer = start_peer(&rss.port);
    if (peer < 0)
        return -1;
    heap.port = rss.port;
    int rc = memory_compare("tls,n=100", &upy_tls_ops, &raw_tls_ops, &rss);
    if (memory_compare("tls,n=100,heap", &upy_tls_ops, &raw_tls_ops, &heap) < 0)
        rc = -1;
    stop_peer(peer);
    return rc;
#else
    (void)start_peer, (void)stop_peer;
    bench_print_skipped("memory", "tls,n=100", "ssl is not in this build (not yet on main)");
    return 0;
#endif
}

int scenario_memory(void)
{
    static const struct memory_params rss = {.n = 1000}, heap = {.n = 1000, .heap = true};
    int rc = 0;
    if (upy_profile_for(rss.n + 64, 0) < 0)
        return -1;
    if (memory_compare("plain,n=1000", &upy_plain_ops, &raw_plain_ops, &rss) < 0 ||
        memory_compare("plain,n=1000,heap", &upy_plain_ops, &raw_plain_ops, &heap) < 0)
        rc = -1;
    if (memory_tls() < 0)
        rc = -1;
    upy_profile_for(0, 0);
    return rc;
}
