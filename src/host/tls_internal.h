/*
 * What the host's TLS files share, internal to src/host/: OpenSSL's results in neutral terms
 * (tls_outcome.c: one table, used by the context cache when it loads files and by connections),
 * and the parts of a context a connection is made from (tls_ctx.c).
 */
#ifndef UPYSOCK_HOST_TLS_INTERNAL_H
#define UPYSOCK_HOST_TLS_INTERNAL_H

#include <stdbool.h>

#include <openssl/ssl.h>

#include "tls.h"

/* Where an error came from, which decides between outcomes that share an OpenSSL reason. */
enum tls_stage {
    TLS_ANY_STAGE, TLS_READING, TLS_WRITING, TLS_LOADING_CERT, TLS_LOADING_KEY,
    TLS_CLIENT_HELLO, /* a server that has not read a ClientHello yet */
};

/* recv() returned 0 (the socket's end of stream), in place of an errno. */
#define TLS_SOCK_EOF (-1)

/* The first queued OpenSSL error the table names exactly (received alerts included), or the
 * stage's catch-all when `fallback` (0 when there is none). Empties the queue. */
int tls_outcome_from_queue(enum tls_stage stage, bool fallback);

/* The outcome of a failed socket call (a device errno, or TLS_SOCK_EOF), or 0 when the table has none. */
int tls_outcome_from_socket(int err, bool writing);

/* The outcome of SSL_get_error()'s answer (never 0). */
int tls_outcome_from_ssl_error(int ssl_error);

/* The problem bit for one X509_V_ERR_* of a certificate check. */
unsigned tls_outcome_problem(long x509_error);

/* A context's OpenSSL context and settings (tls_ctx.c). */
SSL_CTX *tls_ctx_ssl(const tls_ctx *c);
bool tls_ctx_server(const tls_ctx *c);
int tls_ctx_verify(const tls_ctx *c); /* 0 none, 1 optional, 2 required */

#endif
