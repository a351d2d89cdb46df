#define _GNU_SOURCE
#include "testutil.h"

#include <upysock/uerrno.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/sockios.h>

extern char **environ;

#define PIDLESS_POLL_MS 10

const char *tu_exc_text(void)
{
    static _Thread_local char text[256];
    upy_exc_format(NULL, text, sizeof text);
    return text;
}

uint64_t tu_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void tu_proc_start(tu_proc *p, char *const argv[], char *const env[])
{
    memset(p, 0, sizeof *p);
    int out[2], log[2];
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    assert_int_equal(pipe2(log, O_CLOEXEC), 0);
    size_t n = 0, extra = 0;
    while (environ[n])
        n++;
    while (env && env[extra])
        extra++;
    char **envp = calloc(n + extra + 1, sizeof *envp);
    assert_non_null(envp);
    memcpy(envp, environ, n * sizeof *envp);
    if (extra) /* env may be NULL, which memcpy must not get even for 0 bytes */
        memcpy(envp + n, env, extra * sizeof *envp);
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        dup2(out[1], 1);
        dup2(out[1], 2);
        dup2(log[1], 3);
        execve(argv[0], argv, envp);
        _exit(127);
    }
    free(envp);
    close(out[1]);
    close(log[1]);
    p->out_fd = out[0];
    p->log_fd = log[0];
    /* -1 where pidfd_open is missing (ENOSYS: old kernels, valgrind): tu_proc_wait then looks
     * at the child every PIDLESS_POLL_MS instead of being woken by its exit. */
    p->pidfd = (int)pidfd_open(p->pid, 0);
    assert_true(p->pidfd >= 0 || errno == ENOSYS);
}

/* Pull whatever is available from the two pipes, waiting at most timeout_ms. */
static void pump(tu_proc *p, int timeout_ms)
{
    struct pollfd fds[2] = {{p->out_fd, POLLIN, 0}, {p->log_fd, POLLIN, 0}};
    if (poll(fds, 2, timeout_ms) <= 0)
        return;
    if (fds[0].revents && p->out_fd >= 0) {
        ssize_t r = read(p->out_fd, p->out + p->out_len, sizeof p->out - 1 - p->out_len);
        if (r > 0)
            p->out_len += (size_t)r;
        else
            close(p->out_fd), p->out_fd = -1;
        p->out[p->out_len] = '\0';
    }
    if (fds[1].revents && p->log_fd >= 0) {
        ssize_t r = read(p->log_fd, p->log + p->log_len, sizeof p->log - 1 - p->log_len);
        if (r > 0)
            p->log_len += (size_t)r;
        else
            close(p->log_fd), p->log_fd = -1;
        p->log[p->log_len] = '\0';
    }
}

bool tu_proc_wait_output(tu_proc *p, const char *needle, bool in_log, int timeout_ms)
{
    uint64_t deadline = tu_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        if (strstr(in_log ? p->log : p->out, needle))
            return true;
        uint64_t now = tu_now_ms();
        if (now >= deadline || (p->out_fd < 0 && p->log_fd < 0))
            return false;
        pump(p, (int)(deadline - now));
    }
}

int tu_proc_listen_port(tu_proc *p, int timeout_ms)
{
    if (!tu_proc_wait_output(p, "upysock: listen ", true, timeout_ms) ||
        !tu_proc_wait_output(p, "\n", true, timeout_ms))
        return -1;
    const char *line = strstr(p->log, "upysock: listen ");
    const char *arrow = strstr(line, "-> ");
    const char *colon = arrow ? strchr(arrow, ':') : NULL;
    return colon ? atoi(colon + 1) : -1;
}

bool tu_proc_wait(tu_proc *p, int timeout_ms)
{
    uint64_t deadline = tu_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        if (waitpid(p->pid, &p->status, WNOHANG) == p->pid) {
            while (p->out_fd >= 0 || p->log_fd >= 0) /* drain what it wrote */
                pump(p, 100);
            if (p->pidfd >= 0)
                close(p->pidfd);
            return true;
        }
        uint64_t now = tu_now_ms();
        if (now >= deadline)
            return false;
        int wait_ms = (int)(deadline - now);
        if (p->pidfd < 0 && wait_ms > PIDLESS_POLL_MS)
            wait_ms = PIDLESS_POLL_MS;
        struct pollfd fds[3] = {{p->pidfd, POLLIN, 0}, {p->out_fd, POLLIN, 0}, {p->log_fd, POLLIN, 0}};
        if (poll(fds, 3, wait_ms) > 0 && (fds[1].revents || fds[2].revents))
            pump(p, 0);
    }
}

bool tu_proc_stop(tu_proc *p, int sig, int timeout_ms)
{
    kill(p->pid, sig);
    if (tu_proc_wait(p, timeout_ms))
        return true;
    kill(p->pid, SIGKILL);
    tu_proc_wait(p, 5000);
    return false;
}

int tu_count(const char *haystack, const char *needle)
{
    int n = 0;
    for (const char *at = haystack; (at = strstr(at, needle)); at += strlen(needle))
        n++;
    return n;
}

const char *tu_example(const char *name)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", UPYSOCK_EXAMPLES_DIR, name);
    return path;
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    return sin;
}

/* A kernel socket of `type` bound to 127.0.0.1 on an ephemeral port, written to *port. */
static int bound(int type, int *port)
{
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = loopback(0);
    socklen_t len = sizeof sin;
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    *port = ntohs(sin.sin_port);
    return fd;
}

int tu_listener(int *port)
{
    int fd = bound(SOCK_STREAM, port);
    assert_int_equal(listen(fd, 64), 0);
    return fd;
}

int tu_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = loopback(port);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    return fd;
}

int tu_accept(int listener, int timeout_ms)
{
    if (!tu_readable(listener, timeout_ms))
        return -1;
    return accept4(listener, NULL, NULL, SOCK_CLOEXEC);
}

void tu_reset(int fd)
{
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

bool tu_readable(int fd, int timeout_ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, timeout_ms) == 1;
}

ssize_t tu_read_exact(int fd, void *buf, size_t n, int timeout_ms)
{
    uint64_t deadline = tu_now_ms() + (uint64_t)timeout_ms;
    size_t got = 0;
    while (got < n) {
        uint64_t now = tu_now_ms();
        if (now >= deadline || !tu_readable(fd, (int)(deadline - now)))
            break;
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

int tu_closed_port(void)
{
    int port, fd = tu_listener(&port);
    close(fd); /* nothing listens there now; the ephemeral range makes reuse unlikely */
    return port;
}

/* --- uselect tests --- */

#include <sys/resource.h>

int tu_blackhole(int *port, int *filler)
{
    int fd = bound(SOCK_STREAM, port);
    assert_int_equal(listen(fd, 0), 0); /* a queue of one */
    *filler = tu_connect(*port); /* completes into the queue and fills it */
    assert_true(tu_readable(fd, 5000)); /* ...once it is really queued */
    return fd;
}

void tu_raise_fd_limit(void)
{
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = rl.rlim_max;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

uint64_t tu_cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000u +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000u;
}

/* --- tests-core: helper programs, output counts, the environment --------------------------- */

const char *tu_test_bin(const char *name)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", UPYSOCK_TEST_BIN_DIR, name);
    return path;
}

void tu_clear_upysock_env(void)
{
    /* unsetenv shifts environ, so rescan from the start after each removal. */
    for (size_t i = 0; environ[i];) {
        if (strncmp(environ[i], "UPYSOCK_", 8) == 0) {
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)strcspn(environ[i], "="), environ[i]);
            unsetenv(name);
            i = 0;
        } else {
            i++;
        }
    }
}

int tu_proc_wait_count(tu_proc *p, const char *needle, int count, bool in_log, int timeout_ms)
{
    uint64_t deadline = tu_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        int seen = tu_count(in_log ? p->log : p->out, needle);
        uint64_t now = tu_now_ms();
        if (seen >= count || now >= deadline || (p->out_fd < 0 && p->log_fd < 0))
            return seen;
        pump(p, (int)(deadline - now));
    }
}

int tu_run(tu_proc *p, char *const argv[], char *const env[], int timeout_ms)
{
    tu_proc_start(p, argv, env);
    if (!tu_proc_wait(p, timeout_ms)) {
        tu_proc_stop(p, SIGKILL, 5000);
        fail_msg("%s did not exit within %d ms; output:\n%s", argv[0], timeout_ms, p->out);
    }
    if (!WIFEXITED(p->status))
        fail_msg("%s died (status %#x); output:\n%s", argv[0], p->status, p->out);
    return WEXITSTATUS(p->status);
}

const char *tu_netns_probe(const char *name)
{
    tu_skip_if_missing(name, tu_netns_missing());
    static tu_proc p;
    char *argv[] = {(char *)tu_test_bin("netns_probe"), (char *)name, NULL};
    int status = tu_run(&p, argv, NULL, 20000);
    tu_skip_if_missing("netns_probe", status == TU_SKIP_STATUS ? p.out : NULL);
    assert_int_equal(status, 0);
    return p.out;
}

bool tu_read_until(int fd, char *buf, size_t size, size_t *len, const char *needle, int timeout_ms)
{
    uint64_t deadline = tu_now_ms() + (uint64_t)timeout_ms;
    buf[*len] = '\0';
    while (!strstr(buf, needle)) {
        uint64_t now = tu_now_ms();
        if (now >= deadline || *len + 1 >= size || !tu_readable(fd, (int)(deadline - now)))
            return false;
        ssize_t r = read(fd, buf + *len, size - 1 - *len);
        if (r <= 0)
            return false;
        *len += (size_t)r;
        buf[*len] = '\0';
    }
    return true;
}

ssize_t tu_read_to_eof(int fd, char *buf, size_t size, int timeout_ms)
{
    uint64_t deadline = tu_now_ms() + (uint64_t)timeout_ms;
    size_t got = 0;
    for (;;) {
        buf[got] = '\0';
        uint64_t now = tu_now_ms();
        if (got + 1 >= size || now >= deadline || !tu_readable(fd, (int)(deadline - now)))
            return -1;
        ssize_t r = read(fd, buf + got, size - 1 - got);
        if (r == 0)
            return (ssize_t)got;
        if (r < 0)
            return -1;
        got += (size_t)r;
    }
}
/* --- usocket tests --- */

#include <netinet/tcp.h>
#include <sched.h>
#include <sys/ioctl.h>

#include "host/host.h"
#include "sock.h"

int tu_kernel_fd(usocket *s)
{
    return s->core->hs.fd;
}

usocket_addr tu_loopback(int port)
{
    usocket_addr a = {"127.0.0.1", port};
    return a;
}

usocket *tu_tcp(void)
{
    usocket *s = usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_STREAM, 0);
    assert_non_null(s);
    return s;
}

usocket *tu_udp(void)
{
    usocket *s = usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_DGRAM, 0);
    assert_non_null(s);
    return s;
}

int tu_usock_port(usocket *s)
{
    host_addr local;
    assert_int_equal(host_local_addr(&s->core->hs, &local), 0);
    return local.port;
}

bool tu_usock_ready(usocket *s, short events, int timeout_ms)
{
    struct pollfd p = {tu_kernel_fd(s), events, 0};
    return poll(&p, 1, timeout_ms) == 1;
}

size_t tu_usock_fill(usocket *s, int peer)
{
    static char chunk[16384];
    int small = 4096;
    setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    size_t total = 0;
    uint64_t deadline = tu_now_ms() + 10000;
    while (tu_now_ms() < deadline) {
        ssize_t n = usocket_send(s, chunk, sizeof chunk);
        if (n > 0) {
            assert_true(n <= 5744); /* never more than tcp_sndbuf in one call */
            total += (size_t)n;
            continue;
        }
        assert_int_equal(n, -1);
        assert_oserror(UERRNO_EAGAIN);
        /* Full for good once the peer stops acknowledging: the window shut (probes) or what
         * came is dropped (retransmits). Else an ACK is only delayed: wait for it, send more. */
        struct tcp_info info;
        socklen_t len = sizeof info;
        int queued = 0;
        while (ioctl(tu_kernel_fd(s), SIOCOUTQ, &queued) == 0 && queued >= 5744 && tu_now_ms() < deadline) {
            if (getsockopt(tu_kernel_fd(s), IPPROTO_TCP, TCP_INFO, &info, &len) == 0 &&
                (info.tcpi_total_retrans > 0 || info.tcpi_probes > 0))
                return total;
            poll(NULL, 0, 1);
        }
    }
    fail_msg("the send buffer never filled");
    return 0;
}

bool tu_usock_queued(usocket *s, int n, int timeout_ms)
{
    uint64_t deadline = tu_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        int queued = 0;
        if (ioctl(tu_kernel_fd(s), FIONREAD, &queued) == 0 && queued >= n)
            return true;
        if (tu_now_ms() >= deadline)
            return false;
        /* Readable as soon as the first byte is in, so this only spins while the rest of a
         * loopback write lands. */
        tu_usock_ready(s, POLLIN, 1);
        sched_yield();
    }
}

usocket *tu_usock_connected(int *peer)
{
    int port, listener = tu_listener(&port);
    return tu_usock_connected_via(listener, port, peer);
}

void tu_peer_send(int peer, const char *text)
{
    assert_int_equal(send(peer, text, strlen(text), 0), (ssize_t)strlen(text));
}

usocket *tu_usock_connected_via(int listener, int port, int *peer)
{
    usocket *s = tu_tcp();
    usocket_addr a = tu_loopback(port);
    assert_int_equal(usocket_connect(s, &a), 0);
    *peer = tu_accept(listener, 5000);
    assert_true(*peer >= 0);
    close(listener);
    return s;
}

int tu_restore_profile(void **state)
{
    (void)state;
    return upy_config_profile("pycom-1.20.2");
}

int tu_conn_setup(void **state)
{
    tu_conn *t = malloc(sizeof *t);
    assert_non_null(t);
    t->s = tu_usock_connected(&t->peer);
    *state = t;
    return 0;
}

int tu_conn_teardown(void **state)
{
    tu_conn *t = *state;
    usocket_release(t->s);
    if (t->peer >= 0)
        close(t->peer);
    free(t);
    return tu_restore_profile(state);
}

void tu_conn_close_peer(tu_conn *t)
{
    close(t->peer);
    t->peer = -1;
}

void tu_conn_reset_peer(tu_conn *t)
{
    tu_reset(t->peer);
    t->peer = -1;
}

usocket *tu_usock_listener(int backlog, int *port)
{
    usocket *s = tu_tcp();
    usocket_addr a = tu_loopback(0);
    assert_int_equal(usocket_bind(s, &a), 0);
    assert_int_equal(usocket_listen(s, backlog), 0);
    *port = tu_usock_port(s);
    return s;
}

int tu_udp_peer(int *port)
{
    return bound(SOCK_DGRAM, port);
}

usocket *tu_usock_udp(int *port)
{
    usocket *u = tu_udp();
    usocket_addr a = tu_loopback(0);
    assert_int_equal(usocket_bind(u, &a), 0);
    *port = tu_usock_port(u);
    return u;
}

void tu_udp_sendto(int fd, const void *buf, size_t len, int port)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof to), (ssize_t)len);
}

int tu_accept_queue(int fd)
{
    struct tcp_info info;
    socklen_t len = sizeof info;
    assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len), 0);
    return (int)info.tcpi_unacked; /* for a listener: the accept queue's length */
}

static void *bg_main(void *arg)
{
    tu_bg *bg = arg;
    upy_exc_clear();
    atomic_store(&bg->tid, (int)gettid());
    bg->result = bg->call(bg);
    bg->exc = *upy_exc_current();
    char done = 1;
    if (write(bg->done[1], &done, 1) != 1)
        abort(); /* no CMocka asserts off the main thread */
    return NULL;
}

void tu_bg_start(tu_bg *bg, ssize_t (*call)(tu_bg *bg))
{
    bg->call = call;
    bg->accepted = NULL;
    atomic_store(&bg->tid, 0);
    assert_int_equal(pipe2(bg->done, O_CLOEXEC), 0);
    assert_int_equal(pthread_create(&bg->thread, NULL, bg_main, bg), 0);
}

static ssize_t bg_recv(tu_bg *bg)
{
    return usocket_recv(bg->s, bg->buf, bg->len);
}

static ssize_t bg_read(tu_bg *bg)
{
    return usocket_read(bg->s, bg->buf, bg->len);
}

static ssize_t bg_accept(tu_bg *bg)
{
    bg->accepted = usocket_accept(bg->s, NULL);
    return bg->accepted ? 0 : -1;
}

static ssize_t bg_send(tu_bg *bg)
{
    return usocket_send(bg->s, bg->buf, bg->len);
}

void tu_bg_send(tu_bg *bg, usocket *s, const void *buf, size_t len)
{
    bg->s = s, bg->buf = (void *)buf, bg->len = len;
    tu_bg_start(bg, bg_send);
}

void tu_bg_recv(tu_bg *bg, usocket *s, void *buf, size_t len)
{
    bg->s = s, bg->buf = buf, bg->len = len;
    tu_bg_start(bg, bg_recv);
}

void tu_bg_accept(tu_bg *bg, usocket *s)
{
    bg->s = s;
    tu_bg_start(bg, bg_accept);
}

void tu_bg_read(tu_bg *bg, usocket *s, void *buf, size_t len)
{
    bg->s = s, bg->buf = buf, bg->len = len;
    tu_bg_start(bg, bg_read);
}

bool tu_bg_wait(tu_bg *bg, int timeout_ms)
{
    if (!tu_readable(bg->done[0], timeout_ms))
        return false;
    pthread_join(bg->thread, NULL);
    close(bg->done[0]);
    close(bg->done[1]);
    if (bg->exc.type == UPY_EXC_NONE)
        upy_exc_clear();
    else
        upy_raise(bg->exc.type, bg->exc.code, bg->exc.has_code ? NULL : bg->exc.message);
    return true;
}

/* The thread sleeps in the kernel, and not on a lock. */
static bool thread_waits(int tid)
{
    char path[64], stat[512], wchan[64] = "";
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[n] = '\0';
    const char *state = strrchr(stat, ')'); /* the name may hold spaces and parentheses */
    if (!state || state[1] != ' ' || state[2] != 'S')
        return false;
    snprintf(path, sizeof path, "/proc/self/task/%d/wchan", tid);
    f = fopen(path, "r");
    if (!f)
        return false;
    n = fread(wchan, 1, sizeof wchan - 1, f);
    fclose(f);
    wchan[n] = '\0';
    return n > 0 && strcmp(wchan, "0") != 0 && !strstr(wchan, "futex");
}

bool tu_bg_blocked(tu_bg *bg, int timeout_ms)
{
    uint64_t deadline = tu_now_ms() + (uint64_t)timeout_ms;
    do {
        int tid = atomic_load(&bg->tid);
        if (tid && thread_waits(tid))
            return true;
        if (tu_readable(bg->done[0], 1)) /* returned instead: the 1 ms is the retry's pace */
            return false;
    } while (tu_now_ms() < deadline);
    return false;
}

bool tu_thread_still_running(pthread_t t, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (long)timeout_ms * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    return pthread_timedjoin_np(t, NULL, &until) == ETIMEDOUT;
}

const char *tu_netns_missing(void)
{
    static char why[128];
    static int probed; /* 0 not yet, 1 available, 2 missing */
    if (!probed) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            _exit(unshare(CLONE_NEWNET) == 0 ? 0 : errno);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        int err = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        snprintf(why, sizeof why, "cannot create a network namespace (%s)",
                 err > 0 ? strerror(err) : "the probe died");
        probed = err == 0 ? 1 : 2;
    }
    return probed == 1 ? NULL : why;
}

const char *tu_program_missing(const char *program)
{
    static _Thread_local char why[160];
    const char *dir = getenv("PATH");
    char candidate[512];
    while (dir && *dir) {
        size_t n = strcspn(dir, ":");
        snprintf(candidate, sizeof candidate, "%.*s/%s", (int)n, dir, program);
        if (n && access(candidate, X_OK) == 0)
            return NULL;
        dir += n + (dir[n] == ':');
    }
    snprintf(why, sizeof why, "%s is not installed (not on PATH)", program);
    return why;
}
