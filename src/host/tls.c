/*
 * TLS over OpenSSL 3, looking like mbedTLS 2.16 from the outside: contexts built from PEM files
 * (and cached), connections over a socket fd through a non-blocking BIO, and the outcome table
 * that turns every OpenSSL result into the code mbedTLS would have returned.
 *
 * The BIO is ours rather than OpenSSL's socket BIO for three reasons: it does not block unless
 * the step allows it (the device side waits, outside any lock), it sends with MSG_NOSIGNAL (a
 * peer that went away must not SIGPIPE the program), and it records exactly what the socket said
 * (reset, end of file, errno), which is what decides between mbedTLS's NET_CONN_RESET,
 * SSL_CONN_EOF and the lwIP errno a failed send reports.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <libgen.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "host.h"
#include "tls.h"
#include "upysock/uerrno.h"

/* mbedTLS x509 verification flags (MBED include/mbedtls/x509.h). */
enum {
    BADCERT_EXPIRED = 0x01,
    BADCERT_REVOKED = 0x02,
    BADCERT_CN_MISMATCH = 0x04,
    BADCERT_NOT_TRUSTED = 0x08,
    BADCERT_MISSING = 0x40,
    BADCERT_OTHER = 0x0100,
    BADCERT_FUTURE = 0x0200,
    BADCERT_KEY_USAGE = 0x0800,
    BADCERT_EXT_KEY_USAGE = 0x1000,
    BADCERT_BAD_MD = 0x4000,
    BADCERT_BAD_KEY = 0x010000,
};

/* --- the outcome table ------------------------------------------------------------------------
 * Every OpenSSL result the library can meet, and what mbedTLS 2.16 (with the IDF's
 * net_sockets.c) reports for the same event. Rows are tried in order; an exact value beats
 * ANY_VALUE. */

enum origin {
    FROM_SSL_ERROR, /* SSL_get_error() */
    FROM_SOCKET,    /* what our BIO saw: an errno, or SOCK_EOF */
    FROM_REASON,    /* ERR_GET_LIB/ERR_GET_REASON of an error OpenSSL queued */
    FROM_ALERT,     /* a fatal alert the peer sent (any description) */
    FROM_VERIFY,    /* an X509_V_ERR_* of one certificate check → an mbedTLS flag bit */
};

enum stage { ANY_STAGE, READING, WRITING, LOADING_CERT, LOADING_KEY };

#define ANY_VALUE INT_MIN
#define SOCK_EOF (-1) /* recv returned 0 */

static const struct outcome {
    unsigned char origin, stage;
    short lib; /* FROM_REASON: ERR_LIB_*, 0 for any library */
    int value;
    int device;
} outcomes[] = {
    /* Waiting and orderly ends. */
    {FROM_SSL_ERROR, ANY_STAGE, 0, SSL_ERROR_WANT_READ, UERRNO_MBEDTLS_ERR_SSL_WANT_READ},
    {FROM_SSL_ERROR, ANY_STAGE, 0, SSL_ERROR_WANT_WRITE, UERRNO_MBEDTLS_ERR_SSL_WANT_WRITE},
    {FROM_SSL_ERROR, ANY_STAGE, 0, SSL_ERROR_ZERO_RETURN, UERRNO_MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY},

    /* The socket (mbedtls_net_recv/send: ECONNRESET and EPIPE are CONN_RESET; ssl_fetch_input
     * takes a 0-byte read as CONN_EOF). */
    {FROM_SOCKET, READING, 0, SOCK_EOF, UERRNO_MBEDTLS_ERR_SSL_CONN_EOF},
    {FROM_SOCKET, ANY_STAGE, 0, ECONNRESET, UERRNO_MBEDTLS_ERR_NET_CONN_RESET},
    {FROM_SOCKET, ANY_STAGE, 0, EPIPE, UERRNO_MBEDTLS_ERR_NET_CONN_RESET},
    {FROM_SOCKET, READING, 0, ANY_VALUE, UERRNO_MBEDTLS_ERR_NET_RECV_FAILED},
    {FROM_SOCKET, WRITING, 0, ANY_VALUE, UERRNO_MBEDTLS_ERR_NET_SEND_FAILED},

    /* Handshake and record verdicts. */
    {FROM_REASON, ANY_STAGE, ERR_LIB_SSL, SSL_R_CERTIFICATE_VERIFY_FAILED, TLS_ERR_X509_CERT_VERIFY_FAILED},
    {FROM_REASON, ANY_STAGE, ERR_LIB_SSL, SSL_R_UNEXPECTED_EOF_WHILE_READING, UERRNO_MBEDTLS_ERR_SSL_CONN_EOF},
    {FROM_REASON, ANY_STAGE, ERR_LIB_SSL, SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE,
     UERRNO_MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE},
    {FROM_REASON, ANY_STAGE, ERR_LIB_SSL, SSL_R_UNSUPPORTED_PROTOCOL, UERRNO_MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION},
    {FROM_REASON, ANY_STAGE, ERR_LIB_SSL, SSL_R_VERSION_TOO_LOW, UERRNO_MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION},
    {FROM_REASON, ANY_STAGE, ERR_LIB_SSL, SSL_R_NO_PROTOCOLS_AVAILABLE, UERRNO_MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION},
    {FROM_REASON, ANY_STAGE, ERR_LIB_SSL, SSL_R_NO_SHARED_CIPHER, UERRNO_MBEDTLS_ERR_SSL_NO_USABLE_CIPHERSUITE},
    {FROM_REASON, ANY_STAGE, ERR_LIB_SSL, SSL_R_WRONG_VERSION_NUMBER, UERRNO_MBEDTLS_ERR_SSL_INVALID_RECORD},
    {FROM_REASON, ANY_STAGE, ERR_LIB_SSL, SSL_R_HTTP_REQUEST, UERRNO_MBEDTLS_ERR_SSL_INVALID_RECORD},
    {FROM_REASON, ANY_STAGE, ERR_LIB_SSL, SSL_R_PACKET_LENGTH_TOO_LONG, UERRNO_MBEDTLS_ERR_SSL_INVALID_RECORD},
    {FROM_REASON, ANY_STAGE, ERR_LIB_SSL, SSL_R_RECORD_LENGTH_MISMATCH, UERRNO_MBEDTLS_ERR_SSL_INVALID_RECORD},
    {FROM_REASON, ANY_STAGE, ERR_LIB_SSL, SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC, UERRNO_MBEDTLS_ERR_SSL_INVALID_MAC},
    {FROM_REASON, ANY_STAGE, ERR_LIB_SSL, SSL_R_UNEXPECTED_MESSAGE, UERRNO_MBEDTLS_ERR_SSL_UNEXPECTED_MESSAGE},
    {FROM_ALERT, ANY_STAGE, 0, ANY_VALUE, UERRNO_MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE},

    /* Reading PEM files (mbedtls_x509_crt_parse, mbedtls_pk_parse_key with no password). */
    {FROM_REASON, LOADING_KEY, ERR_LIB_PEM, PEM_R_BAD_PASSWORD_READ, UERRNO_MBEDTLS_ERR_PK_PASSWORD_REQUIRED},
    {FROM_REASON, LOADING_KEY, ERR_LIB_PEM, PEM_R_PROBLEMS_GETTING_PASSWORD, UERRNO_MBEDTLS_ERR_PK_PASSWORD_REQUIRED},
    {FROM_REASON, LOADING_KEY, ERR_LIB_PEM, PEM_R_BAD_DECRYPT, UERRNO_MBEDTLS_ERR_PK_PASSWORD_REQUIRED},
    /* mbedTLS does not check the pair when loading (the handshake fails later); we cannot load
     * a mismatched pair at all, so it fails here under the nearest pk code. */
    {FROM_REASON, LOADING_KEY, ERR_LIB_X509, X509_R_KEY_VALUES_MISMATCH, UERRNO_MBEDTLS_ERR_PK_TYPE_MISMATCH},
    {FROM_REASON, LOADING_KEY, ERR_LIB_X509, X509_R_KEY_TYPE_MISMATCH, UERRNO_MBEDTLS_ERR_PK_TYPE_MISMATCH},
    {FROM_REASON, LOADING_KEY, 0, ANY_VALUE, UERRNO_MBEDTLS_ERR_PK_KEY_INVALID_FORMAT},
    {FROM_REASON, LOADING_CERT, 0, ANY_VALUE, TLS_ERR_X509_INVALID_FORMAT},

    /* Anything else OpenSSL refuses. */
    {FROM_SSL_ERROR, ANY_STAGE, 0, ANY_VALUE, UERRNO_MBEDTLS_ERR_SSL_INTERNAL_ERROR},

    /* Certificate checks → mbedtls_x509_crt_verify flags. */
    {FROM_VERIFY, ANY_STAGE, 0, X509_V_ERR_CERT_HAS_EXPIRED, BADCERT_EXPIRED},
    {FROM_VERIFY, ANY_STAGE, 0, X509_V_ERR_CERT_REVOKED, BADCERT_REVOKED},
    {FROM_VERIFY, ANY_STAGE, 0, X509_V_ERR_HOSTNAME_MISMATCH, BADCERT_CN_MISMATCH},
    {FROM_VERIFY, ANY_STAGE, 0, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, BADCERT_NOT_TRUSTED},
    {FROM_VERIFY, ANY_STAGE, 0, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, BADCERT_NOT_TRUSTED},
    {FROM_VERIFY, ANY_STAGE, 0, X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, BADCERT_NOT_TRUSTED},
    {FROM_VERIFY, ANY_STAGE, 0, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, BADCERT_NOT_TRUSTED},
    {FROM_VERIFY, ANY_STAGE, 0, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, BADCERT_NOT_TRUSTED},
    {FROM_VERIFY, ANY_STAGE, 0, X509_V_ERR_CERT_UNTRUSTED, BADCERT_NOT_TRUSTED},
    {FROM_VERIFY, ANY_STAGE, 0, X509_V_ERR_CERT_REJECTED, BADCERT_NOT_TRUSTED},
    {FROM_VERIFY, ANY_STAGE, 0, X509_V_ERR_CERT_SIGNATURE_FAILURE, BADCERT_NOT_TRUSTED},
    {FROM_VERIFY, ANY_STAGE, 0, X509_V_ERR_CERT_NOT_YET_VALID, BADCERT_FUTURE},
    {FROM_VERIFY, ANY_STAGE, 0, X509_V_ERR_KEYUSAGE_NO_CERTSIGN, BADCERT_KEY_USAGE},
    {FROM_VERIFY, ANY_STAGE, 0, X509_V_ERR_INVALID_PURPOSE, BADCERT_EXT_KEY_USAGE},
    {FROM_VERIFY, ANY_STAGE, 0, X509_V_ERR_CA_MD_TOO_WEAK, BADCERT_BAD_MD},
    {FROM_VERIFY, ANY_STAGE, 0, X509_V_ERR_EE_KEY_TOO_SMALL, BADCERT_BAD_KEY},
    {FROM_VERIFY, ANY_STAGE, 0, X509_V_ERR_CA_KEY_TOO_SMALL, BADCERT_BAD_KEY},
    {FROM_VERIFY, ANY_STAGE, 0, ANY_VALUE, BADCERT_OTHER},
};

/* The device value for an outcome; 0 when no row matches (or only a wildcard, if exact). */
static int lookup(enum origin origin, int lib, int value, enum stage stage, bool exact)
{
    for (int wildcard = 0; wildcard <= !exact; wildcard++) {
        for (size_t i = 0; i < sizeof outcomes / sizeof outcomes[0]; i++) {
            const struct outcome *o = &outcomes[i];
            if (o->origin != origin || (o->stage != ANY_STAGE && o->stage != stage))
                continue;
            if (wildcard ? o->value == ANY_VALUE : o->value == value && (o->lib == 0 || o->lib == lib))
                return o->device;
        }
    }
    return 0;
}

/* The first queued OpenSSL error the table names exactly (received alerts included), or the
 * stage's catch-all when `fallback`. Empties the queue. */
static int from_queue(enum stage stage, bool fallback)
{
    int code = 0;
    unsigned long e;
    while ((e = ERR_get_error()) != 0) {
        int lib = ERR_GET_LIB(e), reason = ERR_GET_REASON(e);
        bool alert = lib == ERR_LIB_SSL && reason >= SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256;
        int c = alert ? lookup(FROM_ALERT, 0, reason - SSL_AD_REASON_OFFSET, stage, false)
                      : lookup(FROM_REASON, lib, reason, stage, true);
        if (!code)
            code = c;
    }
    return code || !fallback ? code : lookup(FROM_REASON, 0, 0, stage, false);
}

static unsigned verify_flag(long x509_error)
{
    return (unsigned)lookup(FROM_VERIFY, 0, (int)x509_error, ANY_STAGE, false);
}

/* --- connections and the socket BIO ---------------------------------------------------------- */

struct tls_conn {
    SSL *ssl;
    int fd;
    int sock_errno;    /* this step's failed socket call: an errno, SOCK_EOF, or 0 */
    bool sock_writing; /* ... and whether it was a send */
    bool checks;       /* the peer's certificate is checked (authmode != none) */
    bool required;     /* ... and a failed check fails the handshake (CERT_REQUIRED) */
    bool server;
    int io_flags;      /* this step's recv/send flags: MSG_DONTWAIT unless it may block */
    int close_state;   /* close_notify: 0 not yet, 1 queued (the socket was full), 2 done */
    unsigned flags;    /* mbedTLS verification flags gathered by on_verify */
};

static void socket_failed(tls_conn *t, int err, bool writing)
{
    t->sock_errno = err;
    t->sock_writing = writing;
}

static int bio_read(BIO *b, char *buf, int len)
{
    tls_conn *t = BIO_get_data(b);
    ssize_t n;
    BIO_clear_retry_flags(b);
    while ((n = recv(t->fd, buf, (size_t)len, t->io_flags)) < 0 && errno == EINTR)
        ;
    if (n == 0)
        socket_failed(t, SOCK_EOF, false);
    if (n >= 0)
        return (int)n;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        BIO_set_retry_read(b);
    else
        socket_failed(t, errno, false);
    return -1;
}

static int bio_write(BIO *b, const char *buf, int len)
{
    tls_conn *t = BIO_get_data(b);
    ssize_t n;
    BIO_clear_retry_flags(b);
    while ((n = send(t->fd, buf, (size_t)len, t->io_flags | MSG_NOSIGNAL)) < 0 && errno == EINTR)
        ;
    if (n >= 0)
        return (int)n;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        BIO_set_retry_write(b);
    else
        socket_failed(t, errno, true);
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

/* mbedTLS checks the whole chain and reports every problem as a flag; CERT_OPTIONAL then goes
 * on with the handshake, CERT_REQUIRED fails it. */
static int on_verify(int ok, X509_STORE_CTX *store)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    tls_conn *t = SSL_get_app_data(ssl);
    if (!ok)
        t->flags |= verify_flag(X509_STORE_CTX_get_error(store));
    return ok || !t->required;
}

/* --- contexts and their cache ----------------------------------------------------------------- */

#define CACHE_MAX 16

/* A file as it is on disk now: a change of any field means a new context. */
struct file_id {
    char *path; /* NULL: not used */
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

struct tls_ctx {
    tls_ctx *next;
    atomic_int refs; /* the cache's, plus one per tls_ctx_get not yet released */
    SSL_CTX *ssl;
    bool server;
    int verify, max_version;
    struct file_id files[3]; /* by enum tls_file */
    unsigned long checked;   /* files_generation when the files were last found unchanged */
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static tls_ctx *cache; /* most recently used first */

/* --- knowing that no certificate file changed ----------------------------------------------------
 * The device reads its PEM files at every wrap_socket, so an edited file is used by the next wrap.
 * A stat() per file per wrap would say so, but costs a path walk each (about 3.5 µs between
 * handshakes: 4 % of the handshake rate, docs/performance.md). Instead the directories of the
 * cached files are watched with inotify, and one non-blocking read tells whether anything in
 * them changed since the files were last checked; only then are they stat()ed again. The event
 * is queued by the very syscall that changes a file, so a wrap that follows an edit sees it.
 * Under cache_lock. Without inotify (or after a fork, whose child would share the parent's
 * queue) every lookup stat()s, as before. */
static int watch_fd = -1;
static unsigned long files_generation = 1; /* bumped whenever a watched directory reports */
static pthread_once_t watch_once = PTHREAD_ONCE_INIT;

static void forget_watches(void)
{
    if (watch_fd >= 0)
        close(watch_fd); /* the child's copy: the parent keeps its own */
    watch_fd = -1;
}

static void watch_open(void)
{
    watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    pthread_atfork(NULL, NULL, forget_watches);
}

/* Watch the directory holding path (and, for a symlink, the target's). */
static void watch_file(const char *path)
{
    const uint32_t events = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM |
                            IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF;
    char copy[PATH_MAX], *real = realpath(path, NULL);
    const char *files[2] = {path, real};
    for (int i = 0; i < 2 && watch_fd >= 0; i++) {
        if (files[i] && strlen(files[i]) < sizeof copy) {
            memcpy(copy, files[i], strlen(files[i]) + 1);
            if (inotify_add_watch(watch_fd, dirname(copy), events) < 0)
                forget_watches(); /* cannot watch everything: stat every time instead */
        }
    }
    free(real);
}

/* The current generation, after taking in what the watched directories reported. */
static unsigned long files_now(void)
{
    char events[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n;
    while (watch_fd >= 0 && (n = read(watch_fd, events, sizeof events)) > 0)
        files_generation++;
    return files_generation;
}

/* A cached context for cfg whose files are known unchanged, without looking at them. */
static tls_ctx *unchanged_hit(const struct tls_config *cfg, const char *const paths[3])
{
    if (watch_fd < 0)
        return NULL;
    unsigned long now = files_now();
    for (tls_ctx *c = cache; c; c = c->next) {
        bool same = c->server == cfg->server && c->verify == cfg->verify && c->max_version == cfg->max_version;
        for (int i = 0; i < 3 && same; i++)
            same = !paths[i] ? !c->files[i].path : c->files[i].path && strcmp(c->files[i].path, paths[i]) == 0;
        if (same) /* the most recently used context for these paths decides */
            return c->checked == now ? c : NULL;
    }
    return NULL;
}

/* The device reads a file whole or reports it "not found": a path that is not a regular file is
 * that (whether it can be read is asked only before loading it, off the cache-hit path). */
static bool identify(const char *path, struct file_id *id)
{
    struct stat st;
    memset(id, 0, sizeof *id);
    if (!path)
        return true;
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
        return false;
    *id = (struct file_id){(char *)path, st.st_dev, st.st_ino, st.st_size, st.st_mtim};
    return true;
}

static bool same_file(const struct file_id *a, const struct file_id *b)
{
    if (!a->path || !b->path)
        return !a->path && !b->path;
    return strcmp(a->path, b->path) == 0 && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static bool matches(const tls_ctx *c, const struct tls_config *cfg, const struct file_id ids[3])
{
    return c->server == cfg->server && c->verify == cfg->verify && c->max_version == cfg->max_version &&
           same_file(&c->files[0], &ids[0]) && same_file(&c->files[1], &ids[1]) && same_file(&c->files[2], &ids[2]);
}

static void ctx_free(tls_ctx *c)
{
    SSL_CTX_free(c->ssl);
    for (int i = 0; i < 3; i++)
        free(c->files[i].path);
    free(c);
}

void tls_ctx_release(tls_ctx *c)
{
    if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
        ctx_free(c);
}

/* mbedtls_pk_parse_key is called without a password: an encrypted key does not load. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

/* An SSL_CTX for cfg, or a negative mbedTLS code. */
static int build(const struct tls_config *cfg, SSL_CTX **out)
{
    SSL_CTX *ctx = SSL_CTX_new(cfg->server ? TLS_server_method() : TLS_client_method());
    if (!ctx)
        return UERRNO_MBEDTLS_ERR_SSL_ALLOC_FAILED;
    ERR_clear_error();
    /* The minimum stays OpenSSL's (its security level already refuses the weak versions). */
    SSL_CTX_set_max_proto_version(ctx, cfg->max_version);
    /* One record per write, and a write retried after WANT_WRITE may come from another buffer
     * (mbedtls_ssl_write has neither restriction). */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_default_passwd_cb(ctx, no_password);
    int code = 0;
    if (cfg->ca_file && SSL_CTX_load_verify_locations(ctx, cfg->ca_file, NULL) != 1)
        code = from_queue(LOADING_CERT, true);
    else if (cfg->cert_file && SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1)
        code = from_queue(LOADING_CERT, true);
    else if (cfg->key_file && SSL_CTX_use_PrivateKey_file(ctx, cfg->key_file, SSL_FILETYPE_PEM) != 1)
        code = from_queue(LOADING_KEY, true);
    if (code) {
        SSL_CTX_free(ctx);
        return code;
    }
    int mode = SSL_VERIFY_NONE;
    if (cfg->verify != 0)
        mode = SSL_VERIFY_PEER | (cfg->server && cfg->verify == 2 ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
    SSL_CTX_set_verify(ctx, mode, on_verify);
    if (cfg->server) {
        /* Resumed sessions of a server that verifies clients need an id context. */
        static const unsigned char sid[] = "upysock";
        SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
        /* mbedTLS servers name their CAs in the CertificateRequest. */
        if (cfg->verify != 0 && cfg->ca_file)
            SSL_CTX_set_client_CA_list(ctx, SSL_load_client_CA_file(cfg->ca_file));
    }
    ERR_clear_error();
    *out = ctx;
    return 0;
}

/* Take c (in the cache, under cache_lock) for the caller: to the front, one more reference. */
static tls_ctx *take(tls_ctx *c, unsigned long checked)
{
    tls_ctx **p = &cache;
    while (*p != c)
        p = &(*p)->next;
    *p = c->next;
    c->next = cache;
    cache = c;
    c->checked = checked;
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

int tls_ctx_get(const struct tls_config *cfg, tls_ctx **out, enum tls_file *missing)
{
    struct file_id ids[3];
    const char *paths[3] = {[TLS_FILE_CA] = cfg->ca_file, [TLS_FILE_CERT] = cfg->cert_file,
                            [TLS_FILE_KEY] = cfg->key_file};
    pthread_once(&watch_once, watch_open);
    pthread_mutex_lock(&cache_lock);
    tls_ctx *hit = unchanged_hit(cfg, paths);
    if (hit) {
        *out = take(hit, hit->checked);
        pthread_mutex_unlock(&cache_lock);
        return 0;
    }
    /* Watched before they are looked at: a change after this point bumps the generation. */
    for (int i = 0; i < 3; i++)
        if (paths[i])
            watch_file(paths[i]);
    unsigned long checked = files_now();
    pthread_mutex_unlock(&cache_lock);
    for (int i = 0; i < 3; i++) {
        if (!identify(paths[i], &ids[i])) {
            *missing = (enum tls_file)i;
            return TLS_FILE_MISSING;
        }
    }
    pthread_mutex_lock(&cache_lock);
    for (tls_ctx *c = cache; c; c = c->next) {
        if (matches(c, cfg, ids)) {
            *out = take(c, checked);
            pthread_mutex_unlock(&cache_lock);
            return 0;
        }
    }
    pthread_mutex_unlock(&cache_lock);

    for (int i = 0; i < 3; i++) {
        if (paths[i] && access(paths[i], R_OK) < 0) {
            *missing = (enum tls_file)i;
            return TLS_FILE_MISSING;
        }
    }
    /* Built outside the lock: loading files takes milliseconds. */
    tls_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return UERRNO_MBEDTLS_ERR_SSL_ALLOC_FAILED;
    int code = build(cfg, &c->ssl);
    for (int i = 0; i < 3 && code == 0; i++) {
        c->files[i] = ids[i];
        if (ids[i].path && !(c->files[i].path = strdup(ids[i].path)))
            code = UERRNO_MBEDTLS_ERR_SSL_ALLOC_FAILED;
    }
    if (code) {
        ctx_free(c);
        return code;
    }
    c->server = cfg->server;
    c->verify = cfg->verify;
    c->max_version = cfg->max_version;
    c->checked = checked;
    atomic_init(&c->refs, 2); /* the cache's and the caller's */

    pthread_mutex_lock(&cache_lock);
    c->next = cache;
    cache = c;
    tls_ctx **p = &cache;
    for (int kept = 0; *p && kept < CACHE_MAX; kept++)
        p = &(*p)->next;
    tls_ctx *evicted = *p; /* the least recently used, beyond the cache's size */
    *p = NULL;
    pthread_mutex_unlock(&cache_lock);
    tls_ctx_release(evicted);
    *out = c;
    return 0;
}

int tls_conn_new(tls_ctx *ctx, int fd, const char *hostname, tls_session *resume, tls_conn **out)
{
    pthread_once(&bio_once, bio_method_make);
    tls_conn *t = calloc(1, sizeof *t);
    SSL *ssl = t && bio_method ? SSL_new(ctx->ssl) : NULL;
    BIO *bio = ssl ? BIO_new(bio_method) : NULL;
    if (!bio) {
        SSL_free(ssl);
        free(t);
        ERR_clear_error();
        return UERRNO_MBEDTLS_ERR_SSL_ALLOC_FAILED;
    }
    *t = (tls_conn){.ssl = ssl, .fd = fd, .checks = ctx->verify != 0, .required = ctx->verify == 2,
                    .server = ctx->server};
    BIO_set_data(bio, t);
    BIO_set_init(bio, 1);
    SSL_set_bio(ssl, bio, bio);
    SSL_set_app_data(ssl, t);
    if (ctx->server) {
        SSL_set_accept_state(ssl);
    } else {
        SSL_set_connect_state(ssl);
        /* mbedtls_ssl_set_hostname: SNI and the name checked (CN, or the DNS names when the
         * certificate has them). Without it nothing is checked, as on the device. */
        if (hostname && (!SSL_set_tlsext_host_name(ssl, hostname) ||
                         !X509_VERIFY_PARAM_set1_host(SSL_get0_param(ssl), hostname, 0))) {
            tls_conn_free(t);
            ERR_clear_error();
            return UERRNO_MBEDTLS_ERR_SSL_ALLOC_FAILED;
        }
        if (resume)
            SSL_set_session(ssl, (SSL_SESSION *)resume);
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

/* The mbedTLS code for a step that returned ret. */
static int outcome(tls_conn *t, int ret)
{
    int e = SSL_get_error(t->ssl, ret);
    int code = e == SSL_ERROR_SSL ? from_queue(ANY_STAGE, false) : 0;
    if (!code && (e == SSL_ERROR_SSL || e == SSL_ERROR_SYSCALL) && t->sock_errno)
        code = lookup(FROM_SOCKET, 0, t->sock_errno, t->sock_writing ? WRITING : READING, false);
    if (!code)
        code = lookup(FROM_SSL_ERROR, 0, e, ANY_STAGE, false);
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
    t->close_state = code == UERRNO_MBEDTLS_ERR_SSL_WANT_WRITE ? 1 : 2;
    return code;
}

ssize_t tls_step(tls_conn *t, enum tls_op op, void *buf, size_t len, bool may_block)
{
    int r;
    ERR_clear_error();
    t->sock_errno = 0;
    t->io_flags = may_block ? 0 : MSG_DONTWAIT;
    switch (op) {
    case TLS_HANDSHAKE:
        r = SSL_do_handshake(t->ssl);
        return r == 1 ? 0 : outcome(t, r);
    case TLS_READ:
        r = SSL_read(t->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
        return r > 0 ? r : outcome(t, r);
    case TLS_WRITE:
        r = SSL_write(t->ssl, buf, len > SSL3_RT_MAX_PLAIN_LENGTH ? SSL3_RT_MAX_PLAIN_LENGTH : (int)len);
        return r > 0 ? r : outcome(t, r);
    default:
        return close_notify(t);
    }
}

int tls_socket_errno(const tls_conn *t)
{
    return t->sock_errno > 0 ? host_errno_to_device(t->sock_errno) : 0;
}

unsigned tls_verify_flags(const tls_conn *t)
{
    if (!t->checks)
        return 0;
    /* A resumed session was checked when it was made; OpenSSL kept the verdict. */
    if (SSL_session_reused(t->ssl)) {
        long v = SSL_get_verify_result(t->ssl);
        return v == X509_V_OK ? 0 : verify_flag(v);
    }
    /* A server asking for an optional client certificate that never came. */
    if (t->server && !SSL_get0_peer_certificate(t->ssl))
        return t->flags | BADCERT_MISSING;
    return t->flags;
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
