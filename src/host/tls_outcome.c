/*
 * The outcome table: every OpenSSL result the library can meet, named in neutral terms. Which
 * mbedTLS code the board reports for each is decided on the device side (src/tlscode.c); the rows
 * here only say what happened. Rows are tried in order; an exact value beats ANY_VALUE.
 */
#include <errno.h>
#include <limits.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/proverr.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "tls_internal.h"
#include "upysock/uerrno.h"

enum origin {
    FROM_SSL_ERROR, /* SSL_get_error() */
    FROM_SOCKET,    /* what our BIO saw: a device errno, or TLS_SOCK_EOF */
    FROM_REASON,    /* ERR_GET_LIB/ERR_GET_REASON of an error OpenSSL queued */
    FROM_ALERT,     /* a fatal alert the peer sent (any description) */
    FROM_VERIFY,    /* an X509_V_ERR_* of one certificate check → a problem bit */
};

#define ANY_VALUE INT_MIN

static const struct row {
    unsigned char origin, stage;
    short lib; /* FROM_REASON: ERR_LIB_*, 0 for any library */
    int value;
    int outcome; /* enum tls_outcome, or for FROM_VERIFY an enum tls_problem bit */
} rows[] = {
    /* Waiting and orderly ends. */
    {FROM_SSL_ERROR, TLS_ANY_STAGE, 0, SSL_ERROR_WANT_READ, TLS_WANT_READ},
    {FROM_SSL_ERROR, TLS_ANY_STAGE, 0, SSL_ERROR_WANT_WRITE, TLS_WANT_WRITE},
    {FROM_SSL_ERROR, TLS_ANY_STAGE, 0, SSL_ERROR_ZERO_RETURN, TLS_CLOSE_NOTIFY},

    /* The socket: a reset (or a write to a closed peer), the end of stream while reading, or
     * another failure by direction. */
    {FROM_SOCKET, TLS_READING, 0, TLS_SOCK_EOF, TLS_PEER_EOF},
    {FROM_SOCKET, TLS_ANY_STAGE, 0, UERRNO_ECONNRESET, TLS_PEER_RESET}, /* the seam's: EPIPE too */
    {FROM_SOCKET, TLS_READING, 0, ANY_VALUE, TLS_RECV_FAILED},
    {FROM_SOCKET, TLS_WRITING, 0, ANY_VALUE, TLS_SEND_FAILED},

    /* A server's first record that is not a handshake record: mbedTLS checks the type byte
     * before any record-layer check (ssl_parse_client_hello). */
    {FROM_REASON, TLS_CLIENT_HELLO, ERR_LIB_SSL, SSL_R_WRONG_VERSION_NUMBER, TLS_BAD_HELLO},
    {FROM_REASON, TLS_CLIENT_HELLO, ERR_LIB_SSL, SSL_R_HTTP_REQUEST, TLS_BAD_HELLO},
    {FROM_REASON, TLS_CLIENT_HELLO, ERR_LIB_SSL, SSL_R_UNEXPECTED_RECORD, TLS_BAD_HELLO},
    {FROM_REASON, TLS_CLIENT_HELLO, ERR_LIB_SSL, SSL_R_UNEXPECTED_MESSAGE, TLS_BAD_HELLO},
    {FROM_ALERT, TLS_CLIENT_HELLO, 0, ANY_VALUE, TLS_BAD_HELLO},

    /* Handshake and record verdicts. */
    {FROM_REASON, TLS_ANY_STAGE, ERR_LIB_SSL, SSL_R_CERTIFICATE_VERIFY_FAILED, TLS_PEER_UNTRUSTED},
    {FROM_REASON, TLS_ANY_STAGE, ERR_LIB_SSL, SSL_R_UNEXPECTED_EOF_WHILE_READING, TLS_PEER_EOF},
    {FROM_REASON, TLS_ANY_STAGE, ERR_LIB_SSL, SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE, TLS_NO_PEER_CERT},
    {FROM_REASON, TLS_ANY_STAGE, ERR_LIB_SSL, SSL_R_UNSUPPORTED_PROTOCOL, TLS_NO_VERSION},
    {FROM_REASON, TLS_ANY_STAGE, ERR_LIB_SSL, SSL_R_VERSION_TOO_LOW, TLS_NO_VERSION},
    {FROM_REASON, TLS_ANY_STAGE, ERR_LIB_SSL, SSL_R_NO_PROTOCOLS_AVAILABLE, TLS_NO_VERSION},
    {FROM_REASON, TLS_ANY_STAGE, ERR_LIB_SSL, SSL_R_NO_SHARED_CIPHER, TLS_NO_CIPHER},
    {FROM_REASON, TLS_ANY_STAGE, ERR_LIB_SSL, SSL_R_WRONG_VERSION_NUMBER, TLS_BAD_RECORD},
    {FROM_REASON, TLS_ANY_STAGE, ERR_LIB_SSL, SSL_R_HTTP_REQUEST, TLS_BAD_RECORD},
    {FROM_REASON, TLS_ANY_STAGE, ERR_LIB_SSL, SSL_R_PACKET_LENGTH_TOO_LONG, TLS_BAD_RECORD},
    {FROM_REASON, TLS_ANY_STAGE, ERR_LIB_SSL, SSL_R_RECORD_LENGTH_MISMATCH, TLS_BAD_RECORD},
    {FROM_REASON, TLS_ANY_STAGE, ERR_LIB_SSL, SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC, TLS_BAD_MAC},
    /* An AEAD record too short to hold its tag: OpenSSL's provider refuses it, mbedTLS's
     * ssl_decrypt_buf length check says INVALID_MAC. */
    {FROM_REASON, TLS_ANY_STAGE, ERR_LIB_PROV, PROV_R_INVALID_AAD, TLS_BAD_MAC},
    {FROM_REASON, TLS_ANY_STAGE, ERR_LIB_SSL, SSL_R_UNEXPECTED_MESSAGE, TLS_UNEXPECTED},
    {FROM_ALERT, TLS_ANY_STAGE, 0, ANY_VALUE, TLS_ALERT},

    /* Reading PEM files (keys are read without a password). */
    {FROM_REASON, TLS_LOADING_KEY, ERR_LIB_PEM, PEM_R_BAD_PASSWORD_READ, TLS_KEY_ENCRYPTED},
    {FROM_REASON, TLS_LOADING_KEY, ERR_LIB_PEM, PEM_R_PROBLEMS_GETTING_PASSWORD, TLS_KEY_ENCRYPTED},
    {FROM_REASON, TLS_LOADING_KEY, ERR_LIB_PEM, PEM_R_BAD_DECRYPT, TLS_KEY_ENCRYPTED},
    {FROM_REASON, TLS_LOADING_KEY, ERR_LIB_X509, X509_R_KEY_VALUES_MISMATCH, TLS_KEY_MISMATCH},
    {FROM_REASON, TLS_LOADING_KEY, ERR_LIB_X509, X509_R_KEY_TYPE_MISMATCH, TLS_KEY_MISMATCH},
    {FROM_REASON, TLS_LOADING_KEY, 0, ANY_VALUE, TLS_KEY_INVALID},
    {FROM_REASON, TLS_LOADING_CERT, 0, ANY_VALUE, TLS_CERT_INVALID},

    /* Anything else OpenSSL refuses. */
    {FROM_SSL_ERROR, TLS_ANY_STAGE, 0, ANY_VALUE, TLS_REFUSED},

    /* Certificate checks. */
    {FROM_VERIFY, TLS_ANY_STAGE, 0, X509_V_ERR_CERT_HAS_EXPIRED, TLS_PROBLEM_EXPIRED},
    {FROM_VERIFY, TLS_ANY_STAGE, 0, X509_V_ERR_CERT_REVOKED, TLS_PROBLEM_REVOKED},
    {FROM_VERIFY, TLS_ANY_STAGE, 0, X509_V_ERR_HOSTNAME_MISMATCH, TLS_PROBLEM_NAME},
    {FROM_VERIFY, TLS_ANY_STAGE, 0, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, TLS_PROBLEM_UNTRUSTED},
    {FROM_VERIFY, TLS_ANY_STAGE, 0, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, TLS_PROBLEM_UNTRUSTED},
    {FROM_VERIFY, TLS_ANY_STAGE, 0, X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, TLS_PROBLEM_UNTRUSTED},
    {FROM_VERIFY, TLS_ANY_STAGE, 0, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, TLS_PROBLEM_UNTRUSTED},
    {FROM_VERIFY, TLS_ANY_STAGE, 0, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, TLS_PROBLEM_UNTRUSTED},
    {FROM_VERIFY, TLS_ANY_STAGE, 0, X509_V_ERR_CERT_UNTRUSTED, TLS_PROBLEM_UNTRUSTED},
    {FROM_VERIFY, TLS_ANY_STAGE, 0, X509_V_ERR_CERT_REJECTED, TLS_PROBLEM_UNTRUSTED},
    {FROM_VERIFY, TLS_ANY_STAGE, 0, X509_V_ERR_CERT_SIGNATURE_FAILURE, TLS_PROBLEM_UNTRUSTED},
    {FROM_VERIFY, TLS_ANY_STAGE, 0, X509_V_ERR_CERT_NOT_YET_VALID, TLS_PROBLEM_FUTURE},
    {FROM_VERIFY, TLS_ANY_STAGE, 0, X509_V_ERR_KEYUSAGE_NO_CERTSIGN, TLS_PROBLEM_KEY_USAGE},
    {FROM_VERIFY, TLS_ANY_STAGE, 0, X509_V_ERR_INVALID_PURPOSE, TLS_PROBLEM_EXT_KEY_USAGE},
    {FROM_VERIFY, TLS_ANY_STAGE, 0, X509_V_ERR_CA_MD_TOO_WEAK, TLS_PROBLEM_WEAK_HASH},
    {FROM_VERIFY, TLS_ANY_STAGE, 0, X509_V_ERR_EE_KEY_TOO_SMALL, TLS_PROBLEM_WEAK_KEY},
    {FROM_VERIFY, TLS_ANY_STAGE, 0, X509_V_ERR_CA_KEY_TOO_SMALL, TLS_PROBLEM_WEAK_KEY},
    {FROM_VERIFY, TLS_ANY_STAGE, 0, ANY_VALUE, TLS_PROBLEM_OTHER},
};

/* The row's outcome; 0 when no row matches (or only a wildcard, if exact). */
static int lookup(enum origin origin, int lib, int value, enum tls_stage stage, bool exact)
{
    for (int wildcard = 0; wildcard <= !exact; wildcard++) {
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
            const struct row *r = &rows[i];
            if (r->origin != origin || (r->stage != TLS_ANY_STAGE && r->stage != stage))
                continue;
            if (wildcard ? r->value == ANY_VALUE : r->value == value && (r->lib == 0 || r->lib == lib))
                return r->outcome;
        }
    }
    return 0;
}

int tls_outcome_from_queue(enum tls_stage stage, bool fallback)
{
    int found = 0;
    unsigned long e;
    while ((e = ERR_get_error()) != 0) {
        int lib = ERR_GET_LIB(e), reason = ERR_GET_REASON(e);
        bool alert = lib == ERR_LIB_SSL && reason >= SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256;
        int o = alert ? lookup(FROM_ALERT, 0, reason - SSL_AD_REASON_OFFSET, stage, false)
                      : lookup(FROM_REASON, lib, reason, stage, true);
        if (!found)
            found = o;
    }
    return found || !fallback ? found : lookup(FROM_REASON, 0, 0, stage, false);
}

int tls_outcome_from_socket(int err, bool writing)
{
    return lookup(FROM_SOCKET, 0, err, writing ? TLS_WRITING : TLS_READING, false);
}

int tls_outcome_from_ssl_error(int ssl_error)
{
    return lookup(FROM_SSL_ERROR, 0, ssl_error, TLS_ANY_STAGE, false);
}

unsigned tls_outcome_problem(long x509_error)
{
    return (unsigned)lookup(FROM_VERIFY, 0, (int)x509_error, TLS_ANY_STAGE, false);
}
