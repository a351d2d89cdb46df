/*
 * ssl (ussl): what the board does with TLS sockets (SEMANTICS §5, §10.3, §13). OpenSSL is
 * reached only through host/tls.h, whose neutral outcomes become the board's mbedTLS codes at the
 * one place they enter (tlscode_of); this file decides when handshakes run (per profile row), how
 * read timeouts count and what each socket call reports.
 *
 * Waiting follows mbedTLS's callbacks as the firmware installs them: a read waits for data up to
 * the read timeout (none: forever) whatever the fd's mode (mbedtls_net_recv_timeout selects
 * first), a write waits as the fd's own mode lets it. Each OpenSSL step runs under the socket's
 * lock and does not block; the waits happen outside it, so a close or a send from another thread
 * never queues behind a blocked read. (The one exception, a handshake with no read timeout,
 * blocks before anyone else has a use for the connection: see drive().)
 */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "host/host.h"
#include "host/tls.h"
#include "internal.h"
#include "sock.h"
#include "tlscode.h"
#include "upysock/ussl.h"

#define SESSION_MAGIC 0x7373736eu /* "sssn" */
#define MAX_HOST_NAME_LEN 255     /* MBEDTLS_SSL_MAX_HOST_NAME_LEN: longer names are BAD_INPUT_DATA */
#define SESSION_DEAD 0xdeadbeefu

struct ussl_session {
    uint32_t magic;
    tls_session *tls;
};

/* What an SSL socket object adds to a plain one (its layer_ctx). */
struct tls_sock {
    pthread_mutex_t lock;       /* one OpenSSL step at a time; never held while waiting */
    tls_conn *conn;
    atomic_int read_timeout_ms; /* mbedtls_ssl_conf_read_timeout as settimeout set it; 0: none */
    atomic_int fatal;           /* a failed read fails again the same way (mbedTLS re-reads EOF) */
    atomic_bool over;           /* the handshake is over: from then on no step holds the lock long */
    atomic_bool alerted;        /* the handshake ended in a received fatal alert (see drive()) */
    int handshake_timeouts;     /* wrap_socket(timeout=): read timeouts a handshake tolerates */
    bool server;
};

static const struct sock_layer tls_layer;

/* The mbedTLS read timeout in force: fixed by the profile (1.20.0), or as settimeout set it. */
static int read_timeout(struct tls_sock *t)
{
    int fixed = profile()->tls_read_timeout_ms;
    return fixed >= 0 ? fixed : atomic_load_explicit(&t->read_timeout_ms, memory_order_relaxed);
}

/* Runs one step until it is done or must give up. The result is the step's, or SSL_TIMEOUT when
 * a read waited read_timeout_ms (0: forever) in vain, or WANT_WRITE when the fd's mode lets a
 * write wait no longer. *sock_errno (may be NULL) gets the device errno of a failed socket call.
 * A handshake with no read timeout waits in the socket itself, lock held: before it is over
 * nothing else has a use for the connection (close and poll do not wait for it), and it saves a
 * failed read and a poll per flight. */
static ssize_t drive(struct tls_sock *t, struct ucore *c, enum tls_op op, void *buf, size_t len,
                     int read_timeout_ms, int *sock_errno)
{
    bool may_block = op == TLS_HANDSHAKE && read_timeout_ms <= 0;
    /* A received fatal alert leaves mbedTLS in its handshake (the state is not HANDSHAKE_OVER):
     * mbedtls_ssl_read, mbedtls_ssl_write and mbedtls_ssl_handshake all run it again, and it
     * reads the next record header from the socket (firmware-notes §17). */
    if (op != TLS_CLOSE && atomic_load_explicit(&t->alerted, memory_order_relaxed))
        op = TLS_NEXT_HEADER;
    for (;;) {
        pthread_mutex_lock(&t->lock);
        ssize_t r = tls_step(t->conn, op, buf, len, may_block);
        if (sock_errno)
            *sock_errno = tls_socket_errno(t->conn);
        atomic_store_explicit(&t->over, tls_version(t->conn) != 0, memory_order_release);
        pthread_mutex_unlock(&t->lock);
        if (r != TLS_WANT_READ && r != TLS_WANT_WRITE)
            return tlscode_of((int)r);
        int ms = r == TLS_WANT_READ ? (read_timeout_ms > 0 ? read_timeout_ms : -1)
                                    : atomic_load_explicit(&c->kernel_mode, memory_order_relaxed);
        int ready = host_wait(&(host_waiter){.on = HOST_WAIT_SOCK, .sock = &c->hs,
                                             .events = r == TLS_WANT_READ ? HOST_EV_IN : HOST_EV_OUT},
                              host_deadline_in_ms(ms));
        if (ready < 0) /* the wait itself failed: so would the socket */
            return tlscode_of(r == TLS_WANT_READ ? TLS_RECV_FAILED : TLS_SEND_FAILED);
        if (ready == 0)
            return r == TLS_WANT_READ ? UERRNO_MBEDTLS_ERR_SSL_TIMEOUT : tlscode_of((int)r);
    }
}

/* A failure (an mbedTLS code, or an errno) as the call reports it: a socket closed under the call
 * is EBADF, as for plain ones. */
static int fail_code(struct ucore *c, ssize_t code)
{
    return UPY__OS(sock_closed(c) ? UERRNO_EBADF : (int)code);
}

/* The firmware's handshake routine (SEMANTICS §5.4): the fd blocks (mbedtls_net_set_block, which
 * clears O_NONBLOCK and nothing else); WANT_* retry; read timeouts count and the
 * `handshake_timeouts`th fails with SSL_TIMEOUT; then non-zero verification flags raise
 * OSError(flags), or OSError(flags_error) where the firmware raises a fixed code. */
static int handshake(struct tls_sock *t, struct ucore *c, int read_timeout_ms, int flags_error)
{
    int rc = atomic_load_explicit(&c->kernel_mode, memory_order_relaxed) == 0 ? sock_set_kernel_mode(c, -1) : 0;
    if (rc < 0)
        return rc;
    ssize_t r;
    int timeouts = 0;
    while ((r = drive(t, c, TLS_HANDSHAKE, NULL, 0, read_timeout_ms, NULL)) == UERRNO_MBEDTLS_ERR_SSL_TIMEOUT &&
           ++timeouts < t->handshake_timeouts)
        ;
    if (r == UERRNO_MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE)
        atomic_store_explicit(&t->alerted, true, memory_order_relaxed);
    if (r < 0)
        return fail_code(c, r);
    pthread_mutex_lock(&t->lock);
    unsigned flags = tlscode_flags(tls_verify_problems(t->conn));
    pthread_mutex_unlock(&t->lock);
    return flags ? UPY__OS(flags_error ? flags_error : (int)flags) : 0;
}

/* --- the layer: what usocket calls do on an SSL socket ------------------------------------------ */

/* connect() on an SSL socket: the handshake follows the TCP connect. The timed path (timeout > 0)
 * runs it with no read timeout (the firmware zeroes it for that phase) and closes the socket
 * when it fails (§5.4). */
static int tls_connected(usocket *s)
{
    struct tls_sock *t = s->layer_ctx;
    bool timed = atomic_load_explicit(&s->timeout_ms, memory_order_relaxed) > 0;
    int fixed = profile()->tls_read_timeout_ms;
    int rc = handshake(t, s->core, timed ? (fixed > 0 ? fixed : 0) : read_timeout(t), 0);
    if (rc < 0 && timed)
        sock_close(s->core);
    return rc;
}

/* One mbedtls_ssl_read: a count, or mbedTLS's code. A failure is kept: the next read fails the
 * same way (mbedTLS reads the socket's end again, and lwIP's socket error is sticky). */
static ssize_t ssl_read(struct tls_sock *t, struct ucore *c, void *buf, size_t len)
{
    int fatal = atomic_load_explicit(&t->fatal, memory_order_relaxed);
    if (fatal)
        return fatal;
    ssize_t r = drive(t, c, TLS_READ, buf, len, read_timeout(t), NULL);
    if (r >= 0 || r == UERRNO_MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || r == UERRNO_MBEDTLS_ERR_SSL_TIMEOUT ||
        r == UERRNO_MBEDTLS_ERR_SSL_WANT_WRITE)
        return r;
    if (r == UERRNO_MBEDTLS_ERR_SSL_CONN_EOF)
        sock_took_eof(c); /* mbedTLS read the FIN: the raw fd stops polling readable */
    if (!sock_closed(c))
        atomic_store_explicit(&t->fatal, (int)r, memory_order_relaxed);
    return r;
}

/* recv (§5.5): one mbedtls_ssl_read. close_notify → b''; the read timeout → b'' or TimeoutError
 * by the Python timeout; any other failure raises mbedTLS's code as it is (lwipsocket_socket_recv:
 * `*_errno = ret`): FIN without close_notify → -29312, reset → -80, a bad record → -29184 ... */
static ssize_t tls_read(usocket *s, void *buf, size_t len)
{
    struct tls_sock *t = s->layer_ctx;
    if (len == 0 && !atomic_load_explicit(&t->fatal, memory_order_relaxed))
        return 0; /* nothing to read; a kept failure is still raised */
    ssize_t r = ssl_read(t, s->core, buf, len);
    switch (r) {
    case UERRNO_MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
        return 0; /* only the alert was read: the FIN behind it still polls readable */
    case UERRNO_MBEDTLS_ERR_SSL_TIMEOUT: return UPY__E_LAYER_TIMEOUT;
    case UERRNO_MBEDTLS_ERR_SSL_WANT_WRITE: return UPY__E_WOULD_BLOCK; /* a non-blocking fd, mid-handshake */
    default: return r >= 0 ? r : fail_code(s->core, r);
    }
}

/* send after a received fatal alert: mbedtls_ssl_write runs the handshake again, and its read is
 * all that happens (ssl_read, sticky failure included). The firmware then raises the task's
 * errno (lwipsocket_socket_send: `*_errno = errno`), which lwIP's read set for the socket's end:
 * ENOTCONN for the FIN (ERR_CLSD), ECONNRESET for a reset. A read timeout or bytes that came
 * leave it stale: we give EAGAIN (OSError(11) / TimeoutError) and mbedTLS's code (firmware-notes §17). */
static ssize_t write_after_alert(struct tls_sock *t, struct ucore *c)
{
    ssize_t r = ssl_read(t, c, NULL, 0);
    switch (r) {
    case UERRNO_MBEDTLS_ERR_SSL_TIMEOUT: return UPY__E_WOULD_BLOCK;
    case UERRNO_MBEDTLS_ERR_SSL_CONN_EOF: return fail_code(c, UERRNO_ENOTCONN);
    case UERRNO_MBEDTLS_ERR_NET_CONN_RESET: return fail_code(c, UERRNO_ECONNRESET);
    default: return fail_code(c, r);
    }
}

/* send (§5.5): one mbedtls_ssl_write, at most one record. WANT_* (a non-blocking fd) → EAGAIN,
 * i.e. OSError(11) or TimeoutError; any other failure is reported as the lwIP errno of the failed
 * write (104 after a reset), or as the mbedTLS code when no socket call failed. */
static ssize_t tls_write(usocket *s, const void *buf, size_t len)
{
    struct tls_sock *t = s->layer_ctx;
    struct ucore *c = s->core;
    if (atomic_load_explicit(&t->alerted, memory_order_relaxed))
        return write_after_alert(t, c);
    int sock_errno = 0;
    ssize_t r = drive(t, c, TLS_WRITE, (void *)buf, len, read_timeout(t), &sock_errno);
    if (r > 0)
        return r;
    if (r == UERRNO_MBEDTLS_ERR_SSL_WANT_WRITE || r == UERRNO_MBEDTLS_ERR_SSL_TIMEOUT)
        return UPY__E_WOULD_BLOCK;
    return fail_code(c, sock_errno ? sock_errno : r);
}

/* The program's recv and send on a TLS socket: one record each, in its bytes (the seam records
 * the TLS records beneath them as wire_recv and wire_send), also when OpenSSL answers from its
 * buffer or from a state it is in, with no socket call at all. The record is built out of line:
 * with the trace off a TLS read or write pays the check and nothing else (not the record's
 * stack frame). */
static __attribute__((cold, noinline)) void trace_tls_io(const char *call, usocket *s, const void *buf, size_t len,
                                                         ssize_t n)
{
    const observe_arg args[] = {{"len", .num = (long long)len}, {"data", OBSERVE_DATA, .text = buf, .num = n}};
    upy__trace_call(call, &s->core->hs, n, args, 2);
}

static inline ssize_t traced(const char *call, usocket *s, const void *buf, size_t len, ssize_t n)
{
    if (UPY__TRACING())
        trace_tls_io(call, s, buf, len, n);
    return n;
}

static ssize_t tls_recv(usocket *s, void *buf, size_t len)
{
    return traced("recv", s, buf, len, tls_read(s, buf, len));
}

static ssize_t tls_send(usocket *s, const void *buf, size_t len)
{
    return traced("send", s, buf, len, tls_write(s, buf, len));
}

/* settimeout/setblocking on the SSL object: the read timeout (0 waits forever; None's 0xFFFFFFFF
 * ms is as good), and on 1.20.0 also the fd's mode, as for a plain socket. */
static int tls_settimeout(usocket *s, int ms)
{
    struct tls_sock *t = s->layer_ctx;
    int rc = profile()->tls_setblocking_sets_fd ? sock_set_kernel_mode(s->core, ms) : 0;
    if (rc < 0)
        return rc;
    atomic_store_explicit(&t->read_timeout_ms, ms > 0 ? ms : 0, memory_order_relaxed);
    return 0;
}

static bool tls_buffered(usocket *s)
{
    struct tls_sock *t = s->layer_ctx;
    if (!atomic_load_explicit(&t->over, memory_order_acquire)) /* no plaintext before that */
        return false;
    pthread_mutex_lock(&t->lock);
    size_t n = tls_pending(t->conn);
    pthread_mutex_unlock(&t->lock);
    return n > 0;
}

/* close(): close_notify first, when a handshake was made (§3.11); before that there is nothing
 * to send, and a handshake in progress may hold the lock. close() succeeds whatever happens
 * here, so the caller's current exception is left as it was. */
static void tls_closing(usocket *s)
{
    if (!atomic_load_explicit(&((struct tls_sock *)s->layer_ctx)->over, memory_order_acquire))
        return;
    upy_exc saved = *upy_exc_current();
    struct ucore *c = sock_enter(s); /* fails only when another close won the race */
    if (c) {
        drive(s->layer_ctx, c, TLS_CLOSE, NULL, 0, 0, NULL);
        sock_leave(c);
    }
    upy__exc_restore(&saved);
}

static void tls_sock_free(struct tls_sock *t)
{
    tls_conn_free(t->conn);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static void tls_free(usocket *s)
{
    tls_sock_free(s->layer_ctx);
}

static const struct sock_layer tls_layer = {
    .recv = tls_recv,
    .send = tls_send,
    .connected = tls_connected,
    .settimeout = tls_settimeout,
    .buffered = tls_buffered,
    .closing = tls_closing,
    .free = tls_free,
};

/* --- wrap_socket, do_handshake, save_session ---------------------------------------------------- */

/* modussl.c's checks, all ValueError("invalid argument(s) value"); the ranges are ours (the C
 * types are wider than the firmware's). */
static bool options_valid(const usocket *sock, const ussl_options *o)
{
    return !sock->layer && /* only a plain socket can be wrapped */
           o->cert_reqs >= USSL_CERT_NONE && o->cert_reqs <= USSL_CERT_REQUIRED &&
           (o->cert_reqs == USSL_CERT_NONE || o->ca_certs) && (!o->server_side || (o->keyfile && o->certfile)) &&
           (!o->saved_session || o->saved_session->magic == SESSION_MAGIC) && o->timeout >= 0 && o->timeout <= 255;
}

static const int not_found[] = {
    [TLS_FILE_CA] = UPY__E_CA_MISSING,
    [TLS_FILE_CERT] = UPY__E_CERT_MISSING,
    [TLS_FILE_KEY] = UPY__E_KEY_MISSING,
};

/* A device path on the host (the /flash mapping). False when it does not fit. */
static bool host_path(const char *path, char out[PATH_MAX])
{
    return upy_config_map_path(path, out, PATH_MAX) < PATH_MAX;
}

/* The TLS state for a wrap of c (*out): files read (CA, then certificate, then key, as the
 * firmware reads them), the connection made. 0 or a code. */
static int tls_sock_new(struct ucore *c, const ussl_options *o, struct tls_sock **out)
{
    bool verify = o->cert_reqs != USSL_CERT_NONE; /* ca_certs is not even read without it */
    bool own = o->keyfile && o->certfile;         /* one without the other is ignored */
    const char *paths[3] = {[TLS_FILE_CA] = verify ? o->ca_certs : NULL,
                            [TLS_FILE_CERT] = own ? o->certfile : NULL,
                            [TLS_FILE_KEY] = own ? o->keyfile : NULL};
    char mapped[3][PATH_MAX];
    for (int i = 0; i < 3; i++) {
        if (paths[i] && !host_path(paths[i], mapped[i]))
            return not_found[i];
    }
    struct tls_config cfg = {
        .server = o->server_side,
        .verify = o->cert_reqs,
        .ca_file = paths[TLS_FILE_CA] ? mapped[TLS_FILE_CA] : NULL,
        .cert_file = paths[TLS_FILE_CERT] ? mapped[TLS_FILE_CERT] : NULL,
        .key_file = paths[TLS_FILE_KEY] ? mapped[TLS_FILE_KEY] : NULL,
        .max_version = profile()->tls_max_version,
    };
    tls_ctx *ctx;
    enum tls_file missing;
    int rc = tls_ctx_get(&cfg, &ctx, &missing);
    if (rc == TLS_FILE_MISSING)
        return not_found[missing];
    if (rc < 0)
        return UPY__OS(tlscode_of(rc));
    struct tls_sock *t = NULL;
    tls_conn *conn = NULL;
    if (o->saved_session && o->server_side) /* mbedtls_ssl_set_session is for clients */
        rc = UERRNO_MBEDTLS_ERR_SSL_BAD_INPUT_DATA;
    else if (o->server_hostname && strlen(o->server_hostname) > MAX_HOST_NAME_LEN)
        rc = UERRNO_MBEDTLS_ERR_SSL_BAD_INPUT_DATA; /* mbedtls_ssl_set_hostname, on either side */
    else
        rc = tlscode_of(tls_conn_new(ctx, &c->hs, o->server_side ? NULL : o->server_hostname,
                                     o->saved_session ? o->saved_session->tls : NULL, &conn));
    tls_ctx_release(ctx);
    if (rc == 0 && !(t = malloc(sizeof *t)))
        rc = UERRNO_MBEDTLS_ERR_SSL_ALLOC_FAILED;
    if (rc) {
        tls_conn_free(conn);
        return UPY__OS(rc);
    }
    pthread_mutex_init(&t->lock, NULL);
    t->conn = conn;
    atomic_init(&t->read_timeout_ms, 0);
    atomic_init(&t->fatal, 0);
    atomic_init(&t->over, false);
    atomic_init(&t->alerted, false);
    t->handshake_timeouts = o->timeout ? o->timeout : profile()->tls_handshake_timeouts;
    t->server = o->server_side;
    *out = t;
    return 0;
}

usocket *ussl_wrap_socket(usocket *sock, const ussl_options *opts)
{
    static const ussl_options defaults;
    const ussl_options *o = opts ? opts : &defaults;
    if (config_ready() < 0 || !sock_core(sock))
        return NULL;
    if (!options_valid(sock, o)) {
        upy__raise(UPY__E_INVALID_ARG_VALUE);
        return NULL;
    }
    struct ucore *c = sock_enter(sock);
    if (!c)
        return NULL;
    struct tls_sock *t = NULL;
    usocket *wrapped = NULL;
    int rc = tls_sock_new(c, o, &t);
    /* A connected socket (accepted, or connected before wrapping) shakes hands now; a failed
     * verification on this path is OSError(-1) in the firmware (§5.2). */
    if (rc == 0 && sock_state(c) == SOCK_CONNECTED)
        rc = handshake(t, c, read_timeout(t), -1);
    if (rc == 0 && !(wrapped = sock_wrap(sock, &tls_layer, t)))
        rc = UPY__E_MEMORY;
    UPY__TRACE_CALL("wrap_socket", &c->hs, rc, {"server_side", .num = o->server_side}, {"cert_reqs", .num = o->cert_reqs},
                    {"server_hostname", OBSERVE_TEXT, .text = o->server_hostname});
    if (rc < 0) {
        if (t)
            tls_sock_free(t);
        upy__raise(rc);
    }
    sock_leave(c);
    return wrapped;
}

int ussl_do_handshake(usocket *sock)
{
    struct ucore *c = sock_enter(sock);
    if (!c)
        return -1;
    int rc, state = sock_state(c);
    if (state == SOCK_CONNECTING)
        state = sock_refresh_connect(c);
    if (sock->layer != &tls_layer) /* undefined on the device (no check, likely a crash) */
        rc = -UERRNO_EINVAL;
    else if (state != SOCK_CONNECTED && state != SOCK_FAILED) /* mbedTLS's first send fails (derived) */
        rc = UPY__OS(UERRNO_MBEDTLS_ERR_NET_SEND_FAILED);
    else
        rc = handshake(sock->layer_ctx, c, read_timeout(sock->layer_ctx), 0);
    sock_leave(c);
    UPY__TRACE_CALL("do_handshake", &c->hs, rc);
    return rc < 0 ? upy__raise(rc) : 0;
}

ussl_session *ussl_save_session(usocket *sock)
{
    struct ucore *c = sock_enter(sock);
    if (!c)
        return NULL;
    ussl_session *saved = NULL;
    int rc = 0;
    if (sock->layer != &tls_layer) {
        rc = -UERRNO_EINVAL;
    } else {
        struct tls_sock *t = sock->layer_ctx;
        pthread_mutex_lock(&t->lock);
        /* mbedtls_ssl_get_session: a client's, after its handshake */
        tls_session *s = !t->server && tls_version(t->conn) ? tls_session_get(t->conn) : NULL;
        pthread_mutex_unlock(&t->lock);
        if (!s)
            rc = UPY__OS(UERRNO_MBEDTLS_ERR_SSL_BAD_INPUT_DATA);
        else if (!(saved = malloc(sizeof *saved)))
            tls_session_release(s), rc = UPY__E_MEMORY;
        else
            *saved = (ussl_session){SESSION_MAGIC, s};
    }
    sock_leave(c);
    UPY__TRACE_CALL("save_session", &c->hs, rc);
    if (rc < 0)
        upy__raise(rc);
    return saved;
}

void ussl_session_release(ussl_session *session)
{
    if (!session || session->magic != SESSION_MAGIC)
        return;
    session->magic = SESSION_DEAD;
    tls_session_release(session->tls);
    free(session);
}
