/*
 * Test support: child processes with captured output, bounded waits, raw kernel peers.
 * Every wait here has a deadline: a hang fails the test instead of stalling CI.
 */
#ifndef UPYSOCK_TESTUTIL_H
#define UPYSOCK_TESTUTIL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* CMocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <upysock/upy.h>

/* The current exception, checked field by field: type, numeric args[0]. */
#define assert_exc(type_, code_)                                                                   \
    do {                                                                                           \
        const upy_exc *e_ = upy_exc_current();                                                     \
        assert_int_equal(e_->type, (type_));                                                       \
        assert_true(e_->has_code);                                                                 \
        assert_int_equal(e_->code, (code_));                                                       \
    } while (0)

/* An OSError(code). */
#define assert_oserror(code_) assert_exc(UPY_EXC_OSERROR, code_)

/* The current exception with a text args[0]. */
#define assert_exc_msg(type_, msg_)                                                                \
    do {                                                                                           \
        const upy_exc *e_ = upy_exc_current();                                                     \
        assert_int_equal(e_->type, (type_));                                                       \
        assert_false(e_->has_code);                                                                \
        assert_string_equal(e_->message, (msg_));                                                  \
    } while (0)

/* The current exception as the device prints it. */
const char *tu_exc_text(void);

uint64_t tu_now_ms(void);

/* A child process: stdout (and stderr) captured through a pipe; fd 3 in the child is the write
 * end of a second pipe, so UPYSOCK_LOG=fd:3 reports the virtual LAN's decisions to the test. */
typedef struct tu_proc {
    pid_t pid;
    int pidfd;
    int out_fd; /* read end: child's stdout+stderr */
    int log_fd; /* read end: child's fd 3 */
    char out[65536];
    size_t out_len;
    char log[8192];
    size_t log_len;
    int status; /* after tu_proc_wait: wait status */
} tu_proc;

/* Start argv[0] with extra "NAME=value" entries (NULL-terminated, may be NULL) added to the
 * environment. Fails the test on error. */
void tu_proc_start(tu_proc *p, char *const argv[], char *const env[]);

/* Read the child's output until `needle` appears in it (out or log) or the deadline passes.
 * Returns true when found. */
bool tu_proc_wait_output(tu_proc *p, const char *needle, bool in_log, int timeout_ms);

/* The port from the log line "upysock: listen ... -> 127.0.0.1:PORT", waiting for it. -1 if none. */
int tu_proc_listen_port(tu_proc *p, int timeout_ms);

/* Wait for the child to exit (reading its output meanwhile). False on timeout. */
bool tu_proc_wait(tu_proc *p, int timeout_ms);

/* Send sig, then wait for exit; SIGKILL if it does not go in time. Returns true if it exited
 * within timeout_ms of the first signal. */
bool tu_proc_stop(tu_proc *p, int sig, int timeout_ms);

/* Count non-overlapping occurrences of needle in the captured output. */
int tu_count(const char *haystack, const char *needle);

/* Path of a built program (examples are next to the tests in the build tree: CMake passes
 * UPYSOCK_EXAMPLES_DIR). */
const char *tu_example(const char *name);

/* Raw kernel peers on 127.0.0.1, for playing the other side of a test. */
int tu_listener(int *port);                   /* a listening TCP socket on an ephemeral port */
int tu_connect(int port);                     /* a connected blocking TCP socket */
int tu_accept(int listener, int timeout_ms);  /* -1 on timeout */
void tu_reset(int fd);                        /* close with RST */
bool tu_readable(int fd, int timeout_ms);     /* poll for POLLIN */
ssize_t tu_read_exact(int fd, void *buf, size_t n, int timeout_ms); /* bytes read before EOF/deadline */
int tu_closed_port(void);                     /* a loopback port nothing listens on */


/* --- uselect tests --- */

/* A loopback listener whose accept queue is full: a connect to it stays in progress (its SYNs
 * are dropped) until the listener is closed. Close *filler and the return value when done. */
int tu_blackhole(int *port, int *filler);

/* Raise RLIMIT_NOFILE's soft limit to the hard limit (tests with thousands of sockets). */
void tu_raise_fd_limit(void);

/* CPU time (user + system) this process has used, in ms. */
uint64_t tu_cpu_ms(void);
/* --- tests-core: helper programs, output counts, the environment --------------------------- */

/* Path of a helper program built next to the test suites (UPYSOCK_TEST_BIN_DIR). */
const char *tu_test_bin(const char *name);

/* Remove every UPYSOCK_* variable from this process's environment, so a suite (and the children
 * it starts) sees the library's defaults whatever the caller exported. Call before any
 * upysock call: the library reads the environment once. */
void tu_clear_upysock_env(void);

/* Read the child's output until `needle` occurs `count` times (out or log) or the deadline
 * passes. Returns the number of occurrences seen. */
int tu_proc_wait_count(tu_proc *p, const char *needle, int count, bool in_log, int timeout_ms);

/* Start argv with env (as tu_proc_start) and wait for it to exit within timeout_ms; fails the
 * test if it does not. Returns the exit status (WEXITSTATUS) and leaves its output in p->out. */
int tu_run(tu_proc *p, char *const argv[], char *const env[], int timeout_ms);

/* Append what fd delivers to buf (NUL-terminated, `*len` bytes so far) until `needle` is in it or
 * the deadline passes. True when found. */
bool tu_read_until(int fd, char *buf, size_t size, size_t *len, const char *needle, int timeout_ms);

/* Read until the peer closes: the byte count, or -1 if the deadline passed (or the buffer
 * filled) first. buf is NUL-terminated. */
ssize_t tu_read_to_eof(int fd, char *buf, size_t size, int timeout_ms);

/* --- what a container build lacks -------------------------------------------------------------
 * Tests that need more than a plain unprivileged process (creating a network namespace, a
 * program such as ip or tshark) skip where it is missing, saying why; the assertions that need nothing special stay in tests
 * that always run. */

/* The exit status of a helper program, or of a whole suite, that cannot run here for want of
 * something the machine does not give. CTest reports such a suite as skipped (SKIP_RETURN_CODE,
 * tests/CMakeLists.txt). */
#define TU_SKIP_STATUS 77

/* Why this process cannot create a network namespace (unshare(CLONE_NEWNET), tried in a child
 * once), or NULL when it can. */
const char *tu_netns_missing(void);

/* Run one case of tests/netns_probe.c (a network namespace of its own) and return its output,
 * or skip the calling test where namespaces are refused. The suite must depend on netns_probe. */
const char *tu_netns_probe(const char *name);

/* Why `program` cannot be run (no executable of that name on PATH), or NULL when it can. */
const char *tu_program_missing(const char *program);

/* Skip the calling test (cmocka skip()) with "SKIP: <what>: <why>" when why is not NULL. */
#define tu_skip_if_missing(what, why)                                                              \
    do {                                                                                           \
        const char *why_ = (why);                                                                  \
        if (why_) {                                                                                \
            print_message("SKIP: %s: %s\n", (what), why_);                                         \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* --- usocket tests --- */

#include <poll.h>
#include <pthread.h>

#include <upysock/usocket.h>

/* More bytes than loopback's kernel buffers take while the peer does not read: a timed send or
 * write of this many stops part-way. */
#define TU_MORE_THAN_LOOPBACK_HOLDS (32u << 20)

/* The kernel fd behind a socket object: how a test looks at what the kernel holds (options,
 * queues, its port). The one place tests reach inside an object (testutil.c). */
int tu_kernel_fd(usocket *s);

/* ("127.0.0.1", port). */
usocket_addr tu_loopback(int port);

/* A new TCP or UDP socket object (the test fails if there is none). */
usocket *tu_tcp(void);
usocket *tu_udp(void);

/* The host port a socket is bound to. The device has no getsockname(): tests read the kernel's. */
int tu_usock_port(usocket *s);

/* Poll the socket's kernel fd for `events` (POLLIN, POLLOUT), at most timeout_ms. Lets a test
 * wait for the kernel (data arrived, a connect finished) without going through the device rules. */
bool tu_usock_ready(usocket *s, short events, int timeout_ms);

/* Wait until at least n bytes are queued on the socket's kernel fd, at most timeout_ms. */
bool tu_usock_queued(usocket *s, int n, int timeout_ms);

/* A blocking socket connected to a raw kernel peer on loopback; *peer is the peer's fd. */
usocket *tu_usock_connected(int *peer);
/* The same through a listener the test made (tu_listener: set rules for its port first); the
 * listener is closed once the peer is accepted. */
usocket *tu_usock_connected_via(int listener, int port, int *peer);
/* The raw peer sends all of text (a C string). */
void tu_peer_send(int peer, const char *text);

/* A teardown: the profile is process-wide, and every test leaves the board's. */
int tu_restore_profile(void **state);

/* The shared fixture of the socket suites: a connected TCP socket and its raw kernel peer
 * (tu_usock_connected), made before a test and released after it with the board's profile
 * back (*state is the tu_conn). A test that closes or resets the peer itself does it with
 * tu_conn_close_peer/_reset_peer, so the teardown does not close the number again. */
typedef struct tu_conn {
    usocket *s;
    int peer; /* -1 once the test closed it */
} tu_conn;
int tu_conn_setup(void **state);
int tu_conn_teardown(void **state);
void tu_conn_close_peer(tu_conn *t);
void tu_conn_reset_peer(tu_conn *t);
#define TU_CONN_TEST(test) cmocka_unit_test_setup_teardown(test, tu_conn_setup, tu_conn_teardown)

/* Non-blocking sends into the raw `peer`, which does not read, until the device's send buffer
 * (5744 bytes) is full for good: the last send raised OSError(11) and everything queued sits
 * behind the peer's shut window (bytes merely awaiting a delayed ACK would free themselves).
 * Shrinks the peer's receive buffer to get there quickly. Returns the bytes sent; each send took
 * at most 5744. The test fails if that does not happen within 10 s. */
size_t tu_usock_fill(usocket *s, int peer);

/* A socket bound to 127.0.0.1 and listening with `backlog`; its port in *port. */
usocket *tu_usock_listener(int backlog, int *port);

/* A raw UDP socket bound to 127.0.0.1; its port in *port. */
int tu_udp_peer(int *port);

/* A UDP socket object bound to 127.0.0.1; its port in *port. */
usocket *tu_usock_udp(int *port);

/* One datagram from the raw socket fd to 127.0.0.1:port (the test fails if it is not sent). */
void tu_udp_sendto(int fd, const void *buf, size_t len, int port);

/* Established connections waiting in a listening kernel socket's accept queue. */
int tu_accept_queue(int fd);

/* A blocking call made in another thread, so a test can see it block and then see it return. */
typedef struct tu_bg {
    usocket *s;
    void *buf;
    size_t len;
    ssize_t result;    /* what the call returned */
    usocket *accepted; /* tu_bg_accept: the new socket, or NULL */
    void *arg;         /* for calls started with tu_bg_start */
    ssize_t (*call)(struct tu_bg *bg);
    _Atomic int tid;   /* the thread's kernel id, once it runs */
    upy_exc exc;
    pthread_t thread;
    int done[2];
} tu_bg;

/* Run call(bg) in a new thread; bg->s, buf, len and arg are the call's to use. */
void tu_bg_start(tu_bg *bg, ssize_t (*call)(tu_bg *bg));

void tu_bg_recv(tu_bg *bg, usocket *s, void *buf, size_t len); /* usocket_recv */
void tu_bg_accept(tu_bg *bg, usocket *s);                        /* usocket_accept */
void tu_bg_read(tu_bg *bg, usocket *s, void *buf, size_t len); /* usocket_read */
void tu_bg_send(tu_bg *bg, usocket *s, const void *buf, size_t len); /* usocket_send */


/* Wait at most timeout_ms for the call to return. When it has: the thread is joined, and the
 * exception it raised becomes the caller's current one (so assert_oserror applies). While it
 * has not, the bg and what it uses must stay alive: clean up (close the socket) before failing. */
bool tu_bg_wait(tu_bg *bg, int timeout_ms);

/* Wait at most timeout_ms until the call's thread sleeps in the kernel on something other than
 * a lock (/proc/self/task/<tid>: state S, a wait channel that is not a futex): blocked in the
 * call's wait, so a test can act on a blocked call without sleeping for it. */
bool tu_bg_blocked(tu_bg *bg, int timeout_ms);

/* Whether thread t is still running timeout_ms from now; if it ended, it has been joined. For a
 * call that must keep waiting: the test then ends the wait itself, and joins. */
bool tu_thread_still_running(pthread_t t, int timeout_ms);

#endif
