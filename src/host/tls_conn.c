/*
 * TLS connections over a host socket: OpenSSL driven through a BIO of our own, one step at a time,
 * its results reduced to neutral outcomes (tls_outcome.c).
 *
 * The BIO is ours rather than OpenSSL's socket BIO for three reasons: it does not block unless
 * the step allows it (the device side waits, outside any lock), it goes through the seam's send
 * and recv (no SIGPIPE, and the hooks see the records), and it records exactly what the socket said
 * (reset, end of file, errno), which is what decides between a reset, an end of stream and the
 * lwIP errno a failed send reports on the device.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "host.h"
#include "tls.h"
#include "tls_internal.h"
#include "upysock/uerrno.h"

struct tls_conn {
    SSL *ssl;
    host_sock *sock;
    int sock_errno;    /* this step's failed socket call: a device errno, TLS_SOCK_EOF, or 0 */
    bool sock_writing; /* ... and whether it was a send */
    bool checks;       /* the peer's certificate is checked (authmode != none) */
    bool required;     /* ... and a failed check fails the handshake (CERT_REQUIRED) */
    bool server;
    bool nameless;     /* server_hostname "": mbedTLS checks the certificate against "", which
                          no name matches (x509_crt_verify_name) */
    int io_flags;      /* this step's recv/send flags: HOST_IO_RECORD, and HOST_IO_DONTWAIT unless it
                          may block */
    int close_state;   /* close_notify: 0 not yet, 1 queued (the socket was full), 2 done */
    unsigned problems; /* enum tls_problem bits gathered by on_verify */
};

static void socket_failed(tls_conn *t, int err, bool writing)
{
    t->sock_errno = err;
    t->sock_writing = writing;
}

/* The BIO's reads and writes are the seam's (host_recv, host_send): every ciphertext byte passes
 * the same hook points as a plain socket's. */
static int bio_read(BIO *b, char *buf, int len)
{
    tls_conn *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n = host_recv(t->sock, buf, (size_t)len, t->io_flags);
    if (n == 0)
        socket_failed(t, TLS_SOCK_EOF, false);
    if (n >= 0)
        return (int)n;
    if (n == -UERRNO_EAGAIN)
        BIO_set_retry_read(b);
    else
        socket_failed(t, (int)-n, false);
    return -1;
}

static int bio_write(BIO *b, const char *buf, int len)
{
    tls_conn *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n = host_send(t->sock, buf, (size_t)len, t->io_flags);
    if (n >= 0)
        return (int)n;
    if (n == -UERRNO_EAGAIN)
        BIO_set_retry_write(b);
    else
        socket_failed(t, (int)-n, true);
    return -1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH; /* every write went straight to the socket */
}

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static void bio_method_make(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "upysock socket");
    if (m && BIO_meth_set_read(m, bio_read) && BIO_meth_set_write(m, bio_write) && BIO_meth_set_ctrl(m, bio_ctrl))
        bio_method = m;
    else
        BIO_meth_free(m);
}

/* mbedTLS checks the whole chain and reports every problem; CERT_OPTIONAL then goes on with the
 * handshake, CERT_REQUIRED fails it. */
static int on_verify(int ok, X509_STORE_CTX *store)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    tls_conn *t = SSL_get_app_data(ssl);
    if (ok && t->nameless && X509_STORE_CTX_get_error_depth(store) == 0) {
        X509_STORE_CTX_set_error(store, X509_V_ERR_HOSTNAME_MISMATCH);
        ok = 0;
    }
    if (!ok)
        t->problems |= tls_outcome_problem(X509_STORE_CTX_get_error(store));
    return ok || !t->required;
}

int tls_conn_new(tls_ctx *ctx, host_sock *sock, const char *hostname, tls_session *resume, tls_conn **out)
{
    pthread_once(&bio_once, bio_method_make);
    tls_conn *t = calloc(1, sizeof *t);
    SSL *ssl = t && bio_method ? SSL_new(tls_ctx_ssl(ctx)) : NULL;
    BIO *bio = ssl ? BIO_new(bio_method) : NULL;
    if (!bio) {
        SSL_free(ssl);
        free(t);
        ERR_clear_error();
        return TLS_NO_MEMORY;
    }
    int verify = tls_ctx_verify(ctx);
    *t = (tls_conn){.ssl = ssl, .sock = sock, .checks = verify != 0, .required = verify == 2,
                    .server = tls_ctx_server(ctx)};
    SSL_set_verify(ssl, SSL_get_verify_mode(ssl), on_verify);
    BIO_set_data(bio, t);
    BIO_set_init(bio, 1);
    SSL_set_bio(ssl, bio, bio);
    /* The verify callback finds t here; storing it can fail for memory like the rest. */
    bool ok = SSL_set_app_data(ssl, t);
    if (t->server) {
        SSL_set_accept_state(ssl);
    } else {
        SSL_set_connect_state(ssl);
        /* mbedtls_ssl_set_hostname: SNI and the name checked (CN, or the DNS names when the
         * certificate has them). Without it nothing is checked, as on the device. OpenSSL can
         * neither send nor check an empty name: "" goes without SNI and fails the check. */
        t->nameless = hostname && !*hostname;
        if (hostname && *hostname)
            ok = ok && SSL_set_tlsext_host_name(ssl, hostname) &&
                 X509_VERIFY_PARAM_set1_host(SSL_get0_param(ssl), hostname, 0);
        if (resume)
            SSL_set_session(ssl, (SSL_SESSION *)resume);
    }
    if (!ok) {
        tls_conn_free(t);
        ERR_clear_error();
        return TLS_NO_MEMORY;
    }
    *out = t;
    return 0;
}

void tls_conn_free(tls_conn *t)
{
    if (!t)
        return;
    SSL_free(t->ssl); /* and the BIO */
    free(t);
}

void tls_thread_done(void)
{
    OPENSSL_thread_stop();
}


/* --- steps ------------------------------------------------------------------------------------ */

/* The outcome of a step that returned ret: what OpenSSL queued, else what the socket said, else
 * what SSL_get_error says. */
static int outcome(tls_conn *t, int ret)
{
    int e = SSL_get_error(t->ssl, ret);
    enum tls_stage stage = t->server && SSL_get_state(t->ssl) == TLS_ST_BEFORE ? TLS_CLIENT_HELLO : TLS_ANY_STAGE;
    int code = e == SSL_ERROR_SSL ? tls_outcome_from_queue(stage, false) : 0;
    if (!code && (e == SSL_ERROR_SSL || e == SSL_ERROR_SYSCALL) && t->sock_errno)
        code = tls_outcome_from_socket(t->sock_errno, t->sock_writing);
    if (!code)
        code = tls_outcome_from_ssl_error(e);
    ERR_clear_error();
    return code;
}

/* close_notify, once, and only after a handshake (mbedtls_ssl_close_notify). Never after a fatal
 * alert: SSL_shutdown would then wait for the peer's close_notify instead. */
static int close_notify(tls_conn *t)
{
    if (t->close_state == 2 ||
        (t->close_state == 0 && (!SSL_is_init_finished(t->ssl) || (SSL_get_shutdown(t->ssl) & SSL_SENT_SHUTDOWN)))) {
        t->close_state = 2;
        return 0;
    }
    int r = SSL_shutdown(t->ssl);
    int code = r >= 0 ? 0 : outcome(t, r);
    t->close_state = code == TLS_WANT_WRITE ? 1 : 2;
    return code;
}

/* Reads up to a record header, as mbedTLS fetches one; its bytes are not parsed. */
static int next_header(tls_conn *t)
{
    unsigned char header[5];
    ssize_t n = host_recv(t->sock, header, sizeof header, t->io_flags);
    if (n > 0)
        return TLS_UNEXPECTED;
    if (n == -UERRNO_EAGAIN)
        return TLS_WANT_READ;
    socket_failed(t, n == 0 ? TLS_SOCK_EOF : (int)-n, false);
    return tls_outcome_from_socket(t->sock_errno, false);
}

/* The handshake's hook point: its end, success or failure, not the waits on the way. */
static int handshake_result(tls_conn *t, int code)
{
    const struct host_hooks *h = host_hooked();
    if (!h || !h->tls_handshake || code == TLS_WANT_READ || code == TLS_WANT_WRITE)
        return code;
    return h->tls_handshake(t->sock, code);
}

ssize_t tls_step(tls_conn *t, enum tls_op op, void *buf, size_t len, bool may_block)
{
    int r;
    ERR_clear_error();
    t->sock_errno = 0;
    t->io_flags = HOST_IO_RECORD | (may_block ? 0 : HOST_IO_DONTWAIT);
    switch (op) {
    case TLS_HANDSHAKE:
        r = SSL_do_handshake(t->ssl);
        return handshake_result(t, r == 1 ? 0 : outcome(t, r));
    case TLS_READ:
        r = SSL_read(t->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
        return r > 0 ? r : outcome(t, r);
    case TLS_WRITE:
        r = SSL_write(t->ssl, buf, len > SSL3_RT_MAX_PLAIN_LENGTH ? SSL3_RT_MAX_PLAIN_LENGTH : (int)len);
        return r > 0 ? r : outcome(t, r);
    case TLS_NEXT_HEADER:
        return next_header(t);
    default:
        return close_notify(t);
    }
}

int tls_socket_errno(const tls_conn *t)
{
    return t->sock_errno > 0 ? t->sock_errno : 0;
}

unsigned tls_verify_problems(const tls_conn *t)
{
    if (!t->checks)
        return 0;
    /* A resumed session was checked when it was made; OpenSSL kept the verdict. */
    if (SSL_session_reused(t->ssl)) {
        long v = SSL_get_verify_result(t->ssl);
        return v == X509_V_OK ? 0 : tls_outcome_problem(v);
    }
    /* A server asking for an optional client certificate that never came. */
    if (t->server && !SSL_get0_peer_certificate(t->ssl))
        return t->problems | TLS_PROBLEM_MISSING;
    return t->problems;
}

size_t tls_pending(const tls_conn *t)
{
    int n = SSL_pending(t->ssl);
    return n > 0 ? (size_t)n : 0;
}

int tls_version(const tls_conn *t)
{
    return SSL_is_init_finished(t->ssl) ? SSL_version(t->ssl) : 0;
}

tls_session *tls_session_get(const tls_conn *t)
{
    return (tls_session *)SSL_get1_session(t->ssl);
}

void tls_session_release(tls_session *s)
{
    SSL_SESSION_free((SSL_SESSION *)s);
}
