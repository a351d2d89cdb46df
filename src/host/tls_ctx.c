/*
 * TLS contexts: built from PEM files as mbedTLS loads them, and cached, so a wrap_socket naming
 * the same unchanged files with the same options reuses the context (no reload; one session
 * cache). An inotify watch on the files' directories tells, in one read, that nothing changed.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <libgen.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "observe.h"
#include "tls.h"
#include "tls_internal.h"

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

/* Each secret of a handshake, client or server side, as one NSS key log line. */
static void on_keylog(const SSL *ssl, const char *line)
{
    (void)ssl;
    observe_keylog(line);
}

/* An SSL_CTX for cfg, or the outcome of a file that does not load. */
static int build(const struct tls_config *cfg, SSL_CTX **out)
{
    SSL_CTX *ctx = SSL_CTX_new(cfg->server ? TLS_server_method() : TLS_client_method());
    if (!ctx)
        return TLS_NO_MEMORY;
    ERR_clear_error();
    /* The minimum stays OpenSSL's (its security level already refuses the weak versions). */
    SSL_CTX_set_max_proto_version(ctx, cfg->max_version);
    /* One record per write, and a write retried after WANT_WRITE may come from another buffer
     * (mbedtls_ssl_write has neither restriction). */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_default_passwd_cb(ctx, no_password);
    SSL_CTX_set_keylog_callback(ctx, on_keylog); /* writes only while a key log is on */
    int code = 0;
    if (cfg->ca_file && SSL_CTX_load_verify_locations(ctx, cfg->ca_file, NULL) != 1)
        code = tls_outcome_from_queue(TLS_LOADING_CERT, true);
    else if (cfg->cert_file && SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1)
        code = tls_outcome_from_queue(TLS_LOADING_CERT, true);
    else if (cfg->key_file && SSL_CTX_use_PrivateKey_file(ctx, cfg->key_file, SSL_FILETYPE_PEM) != 1)
        code = tls_outcome_from_queue(TLS_LOADING_KEY, true);
    if (code) {
        SSL_CTX_free(ctx);
        return code;
    }
    int mode = SSL_VERIFY_NONE;
    if (cfg->verify != 0)
        mode = SSL_VERIFY_PEER | (cfg->server && cfg->verify == 2 ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
    SSL_CTX_set_verify(ctx, mode, NULL); /* each connection adds its callback (tls_conn.c) */
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
        return TLS_NO_MEMORY;
    int code = build(cfg, &c->ssl);
    for (int i = 0; i < 3 && code == 0; i++) {
        c->files[i] = ids[i];
        if (ids[i].path && !(c->files[i].path = strdup(ids[i].path)))
            code = TLS_NO_MEMORY;
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

SSL_CTX *tls_ctx_ssl(const tls_ctx *c)
{
    return c->ssl;
}

bool tls_ctx_server(const tls_ctx *c)
{
    return c->server;
}

int tls_ctx_verify(const tls_ctx *c)
{
    return c->verify;
}
