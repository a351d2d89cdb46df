/*
 * What mbedTLS 2.16 (with the ESP-IDF's net_sockets.c, as the firmware builds it) reports for
 * each TLS event the host sees. Sources: mbedtls/library/ssl_tls.c (ssl_fetch_input: a 0-byte
 * read is CONN_EOF), library/net_sockets.c (mbedtls_net_recv/send: ECONNRESET and EPIPE are
 * NET_CONN_RESET, other errors RECV_FAILED/SEND_FAILED), include/mbedtls/ssl.h, x509.h and pk.h
 * for the numbers; docs/ssl.md has the table as users see it.
 */
#include <stddef.h>

#include "host/tls.h"
#include "tlscode.h"
#include "upysock/uerrno.h"

/* mbedTLS x509 verification flags (include/mbedtls/x509.h MBEDTLS_X509_BADCERT_*). */
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

/* By -outcome (the outcomes count down from -1). */
static const int codes[] = {
    [-TLS_WANT_READ] = UERRNO_MBEDTLS_ERR_SSL_WANT_READ,
    [-TLS_WANT_WRITE] = UERRNO_MBEDTLS_ERR_SSL_WANT_WRITE,
    [-TLS_CLOSE_NOTIFY] = UERRNO_MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY,
    [-TLS_PEER_EOF] = UERRNO_MBEDTLS_ERR_SSL_CONN_EOF,           /* ssl_fetch_input: read 0 */
    [-TLS_PEER_RESET] = UERRNO_MBEDTLS_ERR_NET_CONN_RESET,       /* net_sockets.c: ECONNRESET, EPIPE */
    [-TLS_RECV_FAILED] = UERRNO_MBEDTLS_ERR_NET_RECV_FAILED,
    [-TLS_SEND_FAILED] = UERRNO_MBEDTLS_ERR_NET_SEND_FAILED,
    [-TLS_PEER_UNTRUSTED] = UERRNO_MBEDTLS_ERR_X509_CERT_VERIFY_FAILED, /* ssl_parse_certificate */
    [-TLS_NO_PEER_CERT] = UERRNO_MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE,
    [-TLS_NO_VERSION] = UERRNO_MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION,
    [-TLS_NO_CIPHER] = UERRNO_MBEDTLS_ERR_SSL_NO_USABLE_CIPHERSUITE,
    [-TLS_BAD_RECORD] = UERRNO_MBEDTLS_ERR_SSL_INVALID_RECORD,
    [-TLS_BAD_MAC] = UERRNO_MBEDTLS_ERR_SSL_INVALID_MAC,
    [-TLS_UNEXPECTED] = UERRNO_MBEDTLS_ERR_SSL_UNEXPECTED_MESSAGE,
    [-TLS_ALERT] = UERRNO_MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE,   /* any fatal alert received */
    /* mbedtls_pk_parse_key without a password. mbedTLS does not check the key against the
     * certificate when loading (the handshake fails later); OpenSSL cannot load a mismatched
     * pair at all, so that fails here under the nearest pk code. */
    [-TLS_KEY_ENCRYPTED] = UERRNO_MBEDTLS_ERR_PK_PASSWORD_REQUIRED,
    [-TLS_KEY_MISMATCH] = UERRNO_MBEDTLS_ERR_PK_TYPE_MISMATCH,
    [-TLS_KEY_INVALID] = UERRNO_MBEDTLS_ERR_PK_KEY_INVALID_FORMAT,
    [-TLS_CERT_INVALID] = UERRNO_MBEDTLS_ERR_X509_INVALID_FORMAT, /* mbedtls_x509_crt_parse */
    [-TLS_REFUSED] = UERRNO_MBEDTLS_ERR_SSL_INTERNAL_ERROR,
    [-TLS_NO_MEMORY] = UERRNO_MBEDTLS_ERR_SSL_ALLOC_FAILED,
    [-TLS_BAD_HELLO] = UERRNO_MBEDTLS_ERR_SSL_BAD_HS_CLIENT_HELLO, /* ssl_srv.c ssl_parse_client_hello */
};

int tlscode_of(int outcome)
{
    if (outcome >= 0)
        return outcome;
    size_t i = (size_t)-outcome;
    return i < sizeof codes / sizeof codes[0] && codes[i] ? codes[i] : UERRNO_MBEDTLS_ERR_SSL_INTERNAL_ERROR;
}

static const struct {
    unsigned problem, flag;
} flags[] = {
    {TLS_PROBLEM_EXPIRED, BADCERT_EXPIRED},
    {TLS_PROBLEM_REVOKED, BADCERT_REVOKED},
    {TLS_PROBLEM_NAME, BADCERT_CN_MISMATCH},
    {TLS_PROBLEM_UNTRUSTED, BADCERT_NOT_TRUSTED},
    {TLS_PROBLEM_MISSING, BADCERT_MISSING},
    {TLS_PROBLEM_FUTURE, BADCERT_FUTURE},
    {TLS_PROBLEM_KEY_USAGE, BADCERT_KEY_USAGE},
    {TLS_PROBLEM_EXT_KEY_USAGE, BADCERT_EXT_KEY_USAGE},
    {TLS_PROBLEM_WEAK_HASH, BADCERT_BAD_MD},
    {TLS_PROBLEM_WEAK_KEY, BADCERT_BAD_KEY},
    {TLS_PROBLEM_OTHER, BADCERT_OTHER},
};

unsigned tlscode_flags(unsigned problems)
{
    unsigned word = 0;
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (problems & flags[i].problem)
            word |= flags[i].flag;
    return word;
}
