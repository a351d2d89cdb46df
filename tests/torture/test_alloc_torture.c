/*
 * Allocation-failure torture: a scenario runs once to count its allocations, then again in a
 * fresh child process for every N, with the Nth allocation failing (failalloc.h). Each run must
 * end cleanly: every failed call raises MemoryError or OSError, nothing crashes or hangs, and,
 * in the ASan build, LeakSanitizer finds nothing of upysock's own at exit (OpenSSL's own leaks
 * on its failure paths are in lsan.supp).
 *
 *   test_alloc_torture plain|tls [SECONDS]
 *
 * plain: socket, bind, listen, connect, accept, send, recv, poll, close on loopback; every N of
 * upysock's own allocations. tls: the same with a handshake (and save_session), our client
 * against our server in one process; every N of upysock's own allocations, then a stride over OpenSSL's (a handshake
 * makes thousands), as many runs as fit in the cap. SECONDS caps each sweep (default 60); the
 * output says how far it got.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "failalloc.h"
#include "host/host.h"
#include "testutil.h"
#include <upysock/uselect.h>
#include <upysock/ussl.h>

#define CHILD_SECONDS 20 /* a run that takes longer hangs */
#define IO_TIMEOUT_S 5.0 /* no call waits longer, whatever the other side did */
#define SSL_RUNS 400     /* the OpenSSL sweep's most runs (its stride follows) */

/* --- the scenarios (in the child) ------------------------------------------------------------ */

static bool clean = true; /* every failure so far was MemoryError or OSError */

/* A call's result: true when it succeeded; a failure must be a clean one. */
static bool ok(bool succeeded)
{
    if (succeeded)
        return true;
    const upy_exc *e = upy_exc_current();
    if (e->type != UPY_EXC_MEMORYERROR && !upy_exc_isinstance(e, UPY_EXC_OSERROR)) {
        char text[200];
        upy_exc_format(e, text, sizeof text);
        fprintf(stderr, "unclean failure: %s\n", text);
        clean = false;
    }
    return false;
}

static usocket *tcp(void)
{
    usocket *s = usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_STREAM, USOCKET_IPPROTO_TCP);
    if (ok(s != NULL) && !ok(usocket_settimeout(s, IO_TIMEOUT_S) == 0)) {
        usocket_release(s);
        return NULL;
    }
    return s;
}

/* A listening socket on 127.0.0.1 and its host port (the device has no getsockname). */
static usocket *listener(int *port)
{
    usocket *l = tcp();
    host_addr local;
    if (l && ok(usocket_bind(l, &(usocket_addr){"127.0.0.1", 0}) == 0) && ok(usocket_listen(l, 1) == 0) &&
        host_local_addr(&(host_sock){.fd = tu_kernel_fd(l)}, &local) == 0) {
        *port = local.port;
        return l;
    }
    usocket_release(l);
    return NULL;
}

/* The serving side: accept one connection (wrapped when opts), echo one message, close. */
struct server {
    usocket *listener;
    const ussl_options *opts;
    pthread_t thread;
};

static void *serve(void *arg)
{
    struct server *sv = arg;
    usocket *c = usocket_accept(sv->listener, NULL), *s = c;
    if (ok(c != NULL) && sv->opts)
        ok((s = ussl_wrap_socket(c, sv->opts)) != NULL);
    char buf[32];
    ssize_t n = -1;
    if (s && ok((n = usocket_recv(s, buf, sizeof buf)) >= 0) && n > 0)
        ok(usocket_send(s, buf, (size_t)n) == n);
    if (s != c)
        usocket_release(s);
    usocket_release(c);
    OPENSSL_thread_stop(); /* this thread's OpenSSL state, before the leak check */
    return NULL;
}

/* One client round trip against a server thread; `client` wraps the client socket (or NULL). */
static void round_trip(const ussl_options *server_opts, const ussl_options *client_opts)
{
    int port = 0;
    struct server sv = {.listener = listener(&port), .opts = server_opts};
    if (!sv.listener || pthread_create(&sv.thread, NULL, serve, &sv) != 0) {
        usocket_release(sv.listener);
        return;
    }
    usocket *plain = tcp(), *s = plain;
    if (plain && client_opts)
        ok((s = ussl_wrap_socket(plain, client_opts)) != NULL);
    uselect_poller *p = uselect_poll();
    char buf[32];
    if (s && ok(p != NULL) && ok(usocket_connect(s, &(usocket_addr){"127.0.0.1", port}) == 0) &&
        ok(uselect_poll_register(p, s, USELECT_POLLIN) == 0) && ok(usocket_send_str(s, "ping") == 4)) {
        uselect_event ev[1];
        if (ok(uselect_poll_poll(p, (int)(IO_TIMEOUT_S * 1000), 0, ev, 1) >= 0) &&
            ok(usocket_recv(s, buf, sizeof buf) >= 0) && client_opts) {
            ussl_session *session = ussl_save_session(s); /* ssl.save_session */
            ok(session != NULL);
            ussl_session_release(session);
        }
    }
    uselect_poll_free(p);
    if (s != plain)
        usocket_release(s);
    usocket_release(plain);
    usocket_close(sv.listener); /* wakes an accept that never got its client */
    pthread_join(sv.thread, NULL);
    usocket_release(sv.listener);
}

static void plain_scenario(void)
{
    for (int i = 0; i < 2; i++)
        round_trip(NULL, NULL);
}

static void tls_scenario(void)
{
    if (upy_config_flash(UPYSOCK_TEST_FLASH) < 0)
        abort();
    static const ussl_options server = {
        .server_side = true, .certfile = "/flash/cert/server.pem", .keyfile = "/flash/cert/server.key"};
    static const ussl_options client = {.cert_reqs = USSL_CERT_REQUIRED, .ca_certs = "/flash/cert/ca.pem"};
    round_trip(&server, &client);
}

/* --- the driver (the parent) ----------------------------------------------------------------- */

struct outcome {
    long counts[FA_KINDS];
    bool fired, clean;
};

/* Run the scenario in a child with `kind`'s nth allocation failing. False (with the reason
 * printed) unless it ended cleanly. */
static bool run(void (*scenario)(void), enum fa_kind kind, long nth, struct outcome *out)
{
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0)
        abort();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(pipe_fds[0]);
        alarm(CHILD_SECONDS);
        fa_install();
        /* OpenSSL's one-time global set-up is not a call of the program's (a failure in it
         * leaks what it had made: OpenSSL's own): done before the counting starts. */
        OPENSSL_init_ssl(0, NULL);
        fa_arm(kind, nth);
        scenario();
        struct outcome o;
        memset(&o, 0, sizeof o); /* the padding too: it goes through the pipe */
        o.counts[FA_OWN] = fa_count(FA_OWN);
        o.counts[FA_SSL] = fa_count(FA_SSL);
        o.fired = fa_fired();
        o.clean = clean;
        if (write(pipe_fds[1], &o, sizeof o) != (ssize_t)sizeof o)
            abort();
        exit(0); /* exit(), not _exit(): LeakSanitizer checks here */
    }
    close(pipe_fds[1]);
    memset(out, 0, sizeof *out);
    bool reported = read(pipe_fds[0], out, sizeof *out) == (ssize_t)sizeof *out;
    close(pipe_fds[0]);
    int status;
    waitpid(pid, &status, 0);
    const char *what = kind == FA_OWN ? "upysock" : "OpenSSL";
    if (WIFSIGNALED(status)) {
        printf("%s allocation %ld: killed by signal %d%s\n", what, nth, WTERMSIG(status),
               WTERMSIG(status) == SIGALRM ? " (hung)" : "");
        return false;
    }
    if (WEXITSTATUS(status) != 0 || !reported) {
        printf("%s allocation %ld: exit status %d (a sanitizer report above)\n", what, nth, WEXITSTATUS(status));
        return false;
    }
    if (!out->clean)
        printf("%s allocation %ld: a failure that is not MemoryError or OSError (above)\n", what, nth);
    return out->clean;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Fail allocation 1, 1 + stride, ... of `kind` up to `total`, until the cap. */
static bool sweep(void (*scenario)(void), enum fa_kind kind, long total, long stride, double cap_s)
{
    double start = now_s();
    long runs = 0, fired = 0, n;
    bool all_clean = true;
    for (n = 1; n <= total && now_s() - start < cap_s; n += stride, runs++) {
        struct outcome o;
        all_clean &= run(scenario, kind, n, &o);
        fired += o.fired;
    }
    printf("%s allocations: %ld runs over 1..%ld (stride %ld) of %ld, %ld failed as armed, %.1fs%s\n",
           kind == FA_OWN ? "upysock" : "OpenSSL", runs, n - stride, stride, total, fired, now_s() - start,
           n <= total ? " (time cap reached)" : "");
    return all_clean;
}

int main(int argc, char **argv)
{
    bool tls = argc > 1 && strcmp(argv[1], "tls") == 0;
    if (argc < 2 || (!tls && strcmp(argv[1], "plain") != 0)) {
        fprintf(stderr, "usage: %s plain|tls [SECONDS]\n", argv[0]);
        return 2;
    }
    double cap_s = argc > 2 ? atof(argv[2]) : 60;
    void (*scenario)(void) = tls ? tls_scenario : plain_scenario;
    struct outcome base;
    double t0 = now_s();
    if (!run(scenario, FA_OWN, 0, &base)) {
        printf("the scenario fails without any allocation failing\n");
        return 1;
    }
    double base_s = now_s() - t0;
    printf("%s scenario: %ld allocations by upysock, %ld by OpenSSL\n", argv[1], base.counts[FA_OWN],
           base.counts[FA_SSL]);
    bool passed = sweep(scenario, FA_OWN, base.counts[FA_OWN], 1, cap_s);
    if (tls) {
        /* As many runs as fit in the cap (a run takes about as long as the first), spread over
         * the whole scenario rather than its start. */
        long runs = (long)(cap_s / (base_s * 1.3) + 1);
        runs = runs < SSL_RUNS ? runs : SSL_RUNS;
        long stride = base.counts[FA_SSL] / runs > 1 ? base.counts[FA_SSL] / runs : 1;
        passed &= sweep(scenario, FA_SSL, base.counts[FA_SSL], stride, cap_s);
    }
    return passed ? 0 : 1;
}
