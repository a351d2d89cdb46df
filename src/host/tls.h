/*
 * The TLS border: the only interface to OpenSSL (tls_ctx.c, tls_conn.c, tls_outcome.c). Results
 * are byte counts, 0, or a NEGATIVE enum tls_outcome: what happened, in neutral words (the peer
 * reset, a record did not parse, a key file is encrypted). Which mbedTLS code the board reports
 * for each is the device side's business (src/tlscode.c). OpenSSL types and numbers never cross
 * this border.
 *
 * Nothing here waits unless asked to. The socket is read and written through the seam (host.h)
 * with HOST_IO_DONTWAIT, and a
 * step that needs the network returns TLS_WANT_READ / TLS_WANT_WRITE; the device side waits the
 * way mbedTLS's receive-with-timeout callback does and runs the step again. So the caller can
 * hold a per-connection lock around each step without holding it while blocked.
 */
#ifndef UPYSOCK_HOST_TLS_H
#define UPYSOCK_HOST_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "host.h"

typedef struct tls_ctx tls_ctx;         /* configuration shared by connections (an SSL_CTX) */
typedef struct tls_conn tls_conn;       /* one TLS connection over a host socket */
typedef struct tls_session tls_session; /* a session to resume */

/* Everything a TLS call can end with besides bytes; all negative. */
enum tls_outcome {
    TLS_WANT_READ = -1,       /* the step must wait for the socket to become readable */
    TLS_WANT_WRITE = -2,      /* ... writable */
    TLS_CLOSE_NOTIFY = -3,    /* the peer closed the TLS session (its close_notify alert) */
    TLS_PEER_EOF = -4,        /* the socket reached end of stream without close_notify */
    TLS_PEER_RESET = -5,      /* the socket was reset (ECONNRESET, EPIPE) */
    TLS_RECV_FAILED = -6,     /* another socket error while reading */
    TLS_SEND_FAILED = -7,     /* another socket error while writing */
    TLS_PEER_UNTRUSTED = -8,  /* the peer's certificate failed a required check */
    TLS_NO_PEER_CERT = -9,    /* a required client certificate never came */
    TLS_NO_VERSION = -10,     /* no protocol version both sides speak */
    TLS_NO_CIPHER = -11,      /* no cipher suite both sides have */
    TLS_BAD_RECORD = -12,     /* a record that does not parse (not TLS, too long, ...) */
    TLS_BAD_MAC = -13,        /* a record that does not decrypt */
    TLS_UNEXPECTED = -14,     /* a message out of order */
    TLS_ALERT = -15,          /* the peer sent a fatal alert */
    TLS_KEY_ENCRYPTED = -16,  /* the key file needs a password */
    TLS_KEY_MISMATCH = -17,   /* the key does not belong to the certificate */
    TLS_KEY_INVALID = -18,    /* the key file does not parse */
    TLS_CERT_INVALID = -19,   /* a certificate file does not parse */
    TLS_REFUSED = -20,        /* anything else the TLS library refuses */
    TLS_NO_MEMORY = -21,      /* out of memory */
    TLS_FILE_MISSING = -22,   /* a file cannot be read (tls_ctx_get says which) */
    TLS_BAD_HELLO = -23,      /* a server's first record is not a ClientHello */
};

/* Problems with the peer's certificate chain, as bits (tls_verify_problems). */
enum tls_problem {
    TLS_PROBLEM_EXPIRED = 1 << 0,
    TLS_PROBLEM_REVOKED = 1 << 1,
    TLS_PROBLEM_NAME = 1 << 2,      /* not issued for the name asked for */
    TLS_PROBLEM_UNTRUSTED = 1 << 3, /* no chain to a trusted CA, or a bad signature */
    TLS_PROBLEM_MISSING = 1 << 4,   /* the peer sent no certificate */
    TLS_PROBLEM_FUTURE = 1 << 5,    /* not valid yet */
    TLS_PROBLEM_KEY_USAGE = 1 << 6,
    TLS_PROBLEM_EXT_KEY_USAGE = 1 << 7,
    TLS_PROBLEM_WEAK_HASH = 1 << 8,
    TLS_PROBLEM_WEAK_KEY = 1 << 9,
    TLS_PROBLEM_OTHER = 1 << 10,
};

/* What a context is made of. Paths are host paths; NULL when that file is not used. */
struct tls_config {
    bool server;
    int verify;            /* 0 none, 1 optional (checked, reported), 2 required (fails) */
    const char *ca_file;   /* trusted CAs (PEM), read when verify != 0 */
    const char *cert_file; /* own certificate chain (PEM), with key_file */
    const char *key_file;  /* own private key (PEM, unencrypted) */
    int max_version;       /* highest protocol version: 0x0303 is TLS 1.2 */
};

/* Which file tls_ctx_get could not read. */
enum tls_file { TLS_FILE_CA, TLS_FILE_CERT, TLS_FILE_KEY };

/* A context for cfg. Contexts are cached: a configuration naming the same files, unchanged on
 * disk, with the same options gets the same context (no reload, shared session cache).
 * 0 with *out set (release it with tls_ctx_release); TLS_FILE_MISSING with *missing naming the
 * first file (CA, certificate, key order) that cannot be read; or the outcome of loading a file
 * that does not parse (TLS_CERT_INVALID, TLS_KEY_*), or TLS_NO_MEMORY. */
int tls_ctx_get(const struct tls_config *cfg, tls_ctx **out, enum tls_file *missing);
void tls_ctx_release(tls_ctx *ctx);

/* A connection over sock (not taken over: the caller closes it; it must outlive the connection). hostname (NULL: none) is sent as
 * SNI and checked against the peer's certificate; resume (NULL: none) is offered to the server.
 * 0 with *out set, or TLS_NO_MEMORY. */
int tls_conn_new(tls_ctx *ctx, host_sock *sock, const char *hostname, tls_session *resume, tls_conn **out);
void tls_conn_free(tls_conn *t);

/* The steps that touch the network. Each returns bytes (> 0) or 0 when done, TLS_WANT_READ or
 * TLS_WANT_WRITE when it must wait, or the outcome of the failure. With may_block the step uses
 * the socket as it is (a blocking fd waits in the kernel) instead of never waiting. */
enum tls_op {
    TLS_HANDSHAKE,    /* 0 once the handshake is over */
    TLS_READ,         /* the plaintext of at most one record; TLS_CLOSE_NOTIFY at the end */
    TLS_WRITE,        /* at most one record (16384 bytes), as mbedtls_ssl_write */
    TLS_CLOSE,        /* send close_notify: 0 once sent, or when there is no handshake to close */
    TLS_NEXT_HEADER,  /* past OpenSSL, which reads nothing after a fatal alert: the next record
                         header's bytes taken from the socket, TLS_UNEXPECTED when some came,
                         else the socket's end, failure or TLS_WANT_READ */
};
ssize_t tls_step(tls_conn *t, enum tls_op op, void *buf, size_t len, bool may_block);

/* The device errno (host_errno_to_device) of the socket call that failed the last step, or 0
 * when the step failed for another reason. */
int tls_socket_errno(const tls_conn *t);

/* The problems found with the peer's certificate (enum tls_problem bits); 0 when nothing was
 * checked or nothing was wrong. */
unsigned tls_verify_problems(const tls_conn *t);

/* Plaintext decrypted and not read yet. */
size_t tls_pending(const tls_conn *t);

/* The negotiated protocol version (0x0303 for TLS 1.2), 0 before the handshake. */
int tls_version(const tls_conn *t);

/* The connection's session (a new reference), NULL when it has none. */
tls_session *tls_session_get(const tls_conn *t);
void tls_session_release(tls_session *s);

/* Free what the TLS library keeps for the calling thread (its error queue), before it ends. */
void tls_thread_done(void);

#endif
