/*
 * The TLS border: the only code that calls OpenSSL (tls.c). Results are device numbers: byte
 * counts, 0, or NEGATIVE mbedTLS 2.16 codes (UERRNO_MBEDTLS_*, TLS_ERR_*), all produced by the
 * one outcome table in tls.c. OpenSSL types never cross this border.
 *
 * Nothing here waits unless asked to. The socket is read and written with MSG_DONTWAIT, and a
 * step that needs the network returns MBEDTLS_ERR_SSL_WANT_READ / _WANT_WRITE; the device side
 * waits the way mbedTLS's receive-with-timeout callback does and runs the step again. So the
 * caller can hold a per-connection lock around each step without holding it while blocked.
 */
#ifndef UPYSOCK_HOST_TLS_H
#define UPYSOCK_HOST_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* mbedTLS codes the device raises that uerrno does not name (MBEDTLS x509.h). */
#define TLS_ERR_X509_CERT_VERIFY_FAILED (-0x2700) /* -9984: the peer's chain failed CERT_REQUIRED */
#define TLS_ERR_X509_INVALID_FORMAT (-0x2180)     /* -8576: a certificate file that does not parse */

typedef struct tls_ctx tls_ctx;         /* configuration shared by connections (an SSL_CTX) */
typedef struct tls_conn tls_conn;       /* one TLS connection over a socket fd */
typedef struct tls_session tls_session; /* a session to resume */

/* What a context is made of. Paths are host paths; NULL when that file is not used. */
struct tls_config {
    bool server;
    int verify;            /* mbedTLS authmode: 0 none, 1 optional, 2 required */
    const char *ca_file;   /* trusted CAs (PEM), read when verify != 0 */
    const char *cert_file; /* own certificate chain (PEM), with key_file */
    const char *key_file;  /* own private key (PEM, unencrypted) */
    int max_version;       /* highest protocol version: 0x0303 is TLS 1.2 */
};

/* Which file tls_ctx_get could not read. */
enum tls_file { TLS_FILE_CA, TLS_FILE_CERT, TLS_FILE_KEY };
#define TLS_FILE_MISSING 1

/* A context for cfg. Contexts are cached: a configuration naming the same files, unchanged on
 * disk, with the same options gets the same context (no reload, shared session cache).
 * 0 with *out set (release it with tls_ctx_release); TLS_FILE_MISSING with *missing naming the
 * first file (CA, certificate, key order) that cannot be read; or a negative mbedTLS code for a
 * file that does not parse. */
int tls_ctx_get(const struct tls_config *cfg, tls_ctx **out, enum tls_file *missing);
void tls_ctx_release(tls_ctx *ctx);

/* A connection over fd (not taken over: the caller closes it). hostname (NULL: none) is sent as
 * SNI and checked against the peer's certificate; resume (NULL: none) is offered to the server.
 * 0 with *out set, or MBEDTLS_ERR_SSL_ALLOC_FAILED. */
int tls_conn_new(tls_ctx *ctx, int fd, const char *hostname, tls_session *resume, tls_conn **out);
void tls_conn_free(tls_conn *t);

/* The steps that touch the network. Each returns bytes (> 0) or 0 when done, WANT_READ or
 * WANT_WRITE when it must wait, or the mbedTLS code of the failure. With may_block the step
 * uses the socket as it is (a blocking fd waits in the kernel) instead of never waiting. */
enum tls_op {
    TLS_HANDSHAKE,    /* 0 once the handshake is over */
    TLS_READ,         /* the plaintext of at most one record; PEER_CLOSE_NOTIFY at the end */
    TLS_WRITE,        /* at most one record (16384 bytes), as mbedtls_ssl_write */
    TLS_CLOSE_NOTIFY, /* 0 once sent, or when there is no handshake to close (as mbedTLS) */
};
ssize_t tls_step(tls_conn *t, enum tls_op op, void *buf, size_t len, bool may_block);

/* The device errno (host_errno_to_device) of the socket call that failed the last step, or 0
 * when the step failed for another reason. */
int tls_socket_errno(const tls_conn *t);

/* The mbedTLS x509 verification flags of the peer's certificate (mbedtls_ssl_get_verify_result):
 * 8 not trusted, 4 name mismatch, 1 expired, 0x40 missing, ... 0 when nothing was checked. */
unsigned tls_verify_flags(const tls_conn *t);

/* Plaintext decrypted and not read yet. */
size_t tls_pending(const tls_conn *t);

/* The negotiated protocol version (0x0303 for TLS 1.2), 0 before the handshake. */
int tls_version(const tls_conn *t);


/* Free what OpenSSL keeps for the calling thread (its error queue), before the thread ends. */
void tls_thread_done(void);

/* The connection's session (a new reference), NULL when it has none. */
tls_session *tls_session_get(const tls_conn *t);
void tls_session_release(tls_session *s);

#endif
