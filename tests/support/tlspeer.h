/*
 * A scripted TLS peer for the ssl tests: raw OpenSSL (not upysock) in a thread, playing the
 * server or the client of one or more connections on loopback and reporting what it saw. Its
 * socket waits are bounded (5 s), so a test never hangs on it.
 */
#ifndef UPYSOCK_TLSPEER_H
#define UPYSOCK_TLSPEER_H

#include <stdbool.h>
#include <stddef.h>

/* The flash root the tls_certs fixture fills (fixtures/make-certs.sh); /flash maps here. */
#define UPYSOCK_TEST_FLASH UPYSOCK_TEST_BIN_DIR "/flash"

/* What the peer does before TLS. The RAW_ starts play a server's part after reading the
 * ClientHello, a client's part at once. */
enum tu_tls_start {
    TU_TLS_HANDSHAKE,     /* a normal handshake */
    TU_TLS_RAW_FIN,       /* close: EOF in the handshake */
    TU_TLS_RAW_RST,       /* reset */
    TU_TLS_SILENT,        /* never answer; hold the connection until the other side closes */
    TU_TLS_RAW_GARBAGE,   /* bytes that are not TLS (TU_TLS_GARBAGE), then hold */
    TU_TLS_RAW_TRUNCATED, /* half a handshake record (TU_TLS_TRUNCATED), then close */
    TU_TLS_RAW_ALERT,     /* a fatal handshake_failure alert (TU_TLS_ALERT), then hold */
    TU_TLS_RAW_ALERT_RST, /* the same alert, then reset */
};

/* The hostile bytes, for tests that compare. */
#define TU_TLS_GARBAGE "HTTP/1.1 400 Bad Request\r\n\r\n"
#define TU_TLS_TRUNCATED "\x16\x03\x03\x00\x64" "0123456789"   /* promises 100 bytes, sends 10 */
#define TU_TLS_ALERT "\x15\x03\x03\x00\x02\x02\x28"            /* fatal (2), handshake_failure (40) */

/* How the peer ends a connection after its script. */
enum tu_tls_end {
    TU_TLS_CLOSE_NOTIFY,     /* close_notify, then close */
    TU_TLS_FIN,              /* close without close_notify */
    TU_TLS_RST,              /* close with RST */
    TU_TLS_READ_UNTIL_CLOSE, /* read until close_notify or EOF, hold until the other side's
                                socket goes, then close */
    /* Outside the TLS layer, on the established connection: */
    TU_TLS_GARBAGE_END,   /* TU_TLS_GARBAGE, then hold */
    TU_TLS_TRUNCATED_END, /* TU_TLS_TRUNCATED (an application-data header), then close */
    TU_TLS_ALERT_END,     /* TU_TLS_ALERT in plaintext (it does not decrypt), then hold */
};

typedef struct tu_tls_script {
    bool client;          /* connect to *port instead of listening */
    const char *cert;     /* own certificate and key, host paths (NULL: none) */
    const char *key;
    const char *ca;       /* verify the other side against this CA (NULL: no verification) */
    int min_version;      /* 0: OpenSSL's default; e.g. TLS1_3_VERSION */
    int max_version;
    enum tu_tls_start start;
    bool read_first;      /* read one record after the handshake, before the replies */
    const char *const *replies; /* NULL-terminated; each written as its own record */
    enum tu_tls_end end;
    int connections;      /* served one after another (0 means 1); one SSL_CTX for all */
} tu_tls_script;

typedef struct tu_tls_report {
    bool handshake_ok;
    int version;           /* SSL_version() */
    bool reused;           /* the handshake resumed a session */
    bool peer_cert;        /* the other side presented a certificate */
    char sni[64];          /* the server name the client sent ("" none) */
    char received[256];    /* read_first's record, then READ_UNTIL_CLOSE's data */
    size_t received_len;
    bool got_close_notify; /* READ_UNTIL_CLOSE ended with the other side's close_notify */
} tu_tls_report;

typedef struct tu_tls_peer tu_tls_peer;

/* Start the peer. A server listens on 127.0.0.1 and writes its port to *port; a client
 * connects to *port. Fails the test on error. */
/* A server that reads the client's first record, answers "pong" and closes cleanly (the test
 * certificates). */
tu_tls_script tu_tls_pong_server(void);

tu_tls_peer *tu_tls_peer_start(const tu_tls_script *script, int *port);

/* Wait for the peer to finish its connections; reports[i] describes connection i (may be NULL).
 * False if it did not finish within timeout_ms (it is then left running). */
bool tu_tls_peer_join(tu_tls_peer *p, tu_tls_report *reports, int timeout_ms);

/* A certificate fixture file as a host path ("ca.pem" → "<build>/tests/flash/cert/ca.pem"). */
const char *tu_cert(const char *name);

/* --- the library's side: a plain socket and its SSL wrapper, released together ------------- */

#include <upysock/ussl.h>

typedef struct tu_tls_pair {
    usocket *plain, *ssl;
} tu_tls_pair;

/* A new plain socket wrapped with options o (NULL: the defaults); the test fails if it cannot be. */
void tu_tls_pair_wrap(tu_tls_pair *p, const ussl_options *o);

/* Wrap, then connect through the SSL socket to 127.0.0.1:port: connect's result. */
int tu_tls_pair_connect(tu_tls_pair *p, int port, const ussl_options *o);

/* A peer playing sc, and a pair connected to it with options o (the handshake done): the peer. */
tu_tls_peer *tu_tls_pair_connected(tu_tls_pair *p, const tu_tls_script *sc, const ussl_options *o);

void tu_tls_pair_release(tu_tls_pair *p);

#endif
