/*
 * upysock — ssl (ussl): TLS sockets with the Pycom board's behaviour (mbedTLS 2.16 on firmware
 * 1.20.x), implemented over OpenSSL 3.
 *
 * Python                                              C
 *   ss = ssl.wrap_socket(s, ca_certs="/flash/cert/ca.pem", cert_reqs=ssl.CERT_REQUIRED)
 *                                                     usocket *ss = ussl_wrap_socket(s, &(ussl_options){
 *                                                         .ca_certs = "/flash/cert/ca.pem",
 *                                                         .cert_reqs = USSL_CERT_REQUIRED});
 *   ss.connect(addr)      # TCP connect + handshake   usocket_connect(ss, &addr);
 *   ss.do_handshake()                                 ussl_do_handshake(ss);
 *   sess = ssl.save_session(ss)                       ussl_session *sess = ussl_save_session(ss);
 *   except ssl.SSLError as e: e.args[0] == ssl.SSL_TIMEOUT
 *                                                     upy_exc_is_errno(USSL_SSL_TIMEOUT)
 *
 * The wrapped socket is a usocket handle: every usocket_* call and uselect work on it, with the
 * device's TLS rules (recv returns at most one record's plaintext, close sends close_notify, poll
 * sees the raw socket only). ssl.SSLError is OSError on the device, so TLS failures are OSError
 * with a negative mbedTLS code: -9984 untrusted peer certificate, -30592 fatal alert received,
 * -29312 connection closed without close_notify, -80 reset, -26624 SSL_TIMEOUT; with
 * CERT_OPTIONAL a failed check raises the positive mbedTLS flag word (8 not trusted, 4 name
 * mismatch, 1 expired). docs/ssl.md has the whole table and both handshake models.
 *
 * When the handshake runs depends on the profile (upy_config.h):
 *  pycom-1.20.2 (default) — in wrap_socket if the socket is already connected (an accepted
 *    socket, or one connected before wrapping), otherwise in connect(). setblocking/settimeout
 *    on the SSL socket only set the TLS read timeout: the socket keeps blocking.
 *  pycom-1.20.0 — setblocking(False) makes the socket non-blocking, so connect() raises
 *    OSError(119) and do_handshake() drives the handshake, raising SSL_TIMEOUT after `timeout`
 *    one-second read timeouts (the era of the Pycom socket tutorial).
 *
 * HOSTNAMES: as on the device, the peer's name is checked ONLY when server_hostname is given.
 * CERT_REQUIRED without server_hostname accepts any certificate the CA signed, for any name.
 */
#ifndef UPYSOCK_USSL_H
#define UPYSOCK_USSL_H

#include <stdbool.h>

#include "upy.h"
#include "usocket.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Module constants, device values (MBEDTLS_SSL_VERIFY_*, MBEDTLS_ERR_SSL_TIMEOUT). */
enum {
    USSL_CERT_NONE = 0,     /* no check of the peer's certificate */
    USSL_CERT_OPTIONAL = 1, /* checked; a failure raises the flag word after the handshake */
    USSL_CERT_REQUIRED = 2, /* checked; a failure fails the handshake with OSError(-9984) */
};
#define USSL_SSL_TIMEOUT (-26624)

/* A TLS session to resume (Python's SSLSession). */
typedef struct ussl_session ussl_session;

/* wrap_socket's keyword arguments. Zero-initialised fields are Python's defaults, so
 * &(ussl_options){.ca_certs = ..., .cert_reqs = USSL_CERT_REQUIRED} reads like the call. */
typedef struct ussl_options {
    /* PEM files (unencrypted keys), device paths: "/flash/..." is read from the flash directory
     * (UPYSOCK_FLASH), any other path as is. The client certificate and key are used only when
     * both are given. */
    const char *keyfile;
    const char *certfile;
    bool server_side;
    int cert_reqs;               /* USSL_CERT_NONE (default), _OPTIONAL, _REQUIRED */
    int ssl_version;             /* accepted and ignored, as on the device (TLS 1.2 at most) */
    const char *ca_certs;        /* trusted CAs; required unless cert_reqs is USSL_CERT_NONE */
    const char *server_hostname; /* SNI and the name checked against the peer's certificate */
    ussl_session *saved_session; /* from ussl_save_session: offered for resumption */
    int timeout;                 /* read timeouts a handshake tolerates before SSL_TIMEOUT; 0 means
                                    not given (10). NOT seconds: on pycom-1.20.2 it matters only
                                    after settimeout(t > 0) on the SSL socket. 1..255. */
} ussl_options;

/* wrap_socket(sock, **options) → a new SSL socket sharing sock's connection (sock stays valid
 * and must still be released; closing either closes the connection). opts NULL = all defaults.
 * The handshake runs here when sock is already connected (see above); a verification failure
 * there (CERT_OPTIONAL) raises OSError(-1), as the firmware does on this path.
 *  ValueError("invalid argument(s) value"): cert_reqs other than NONE without ca_certs;
 *    server_side without both keyfile and certfile; sock already an SSL socket; saved_session
 *    not a session; cert_reqs or timeout out of range.
 *  OSError("CA file not found") / ("certificate file not found") / ("key file not found");
 *  OSError(negative mbedTLS code) for a file that does not parse (-8576 certificate,
 *    -15616 key, -15360 encrypted key); OSError(9) when sock is closed.
 * On failure sock is left as it was (open). */
UPY_API usocket *ussl_wrap_socket(usocket *sock, const ussl_options *opts);

/* sock.do_handshake(): runs the handshake to its end (returns at once when it is over) and then
 * re-checks the verification flags. Read timeouts count as in connect; after `timeout` of them
 * → OSError(-26624) SSL_TIMEOUT, and calling again continues the same handshake.
 * Before the TCP connect completed → OSError(-78); on a plain socket → OSError(22). */
UPY_API int ussl_do_handshake(usocket *sock);

/* save_session(sock) → the session of a client SSL socket after its handshake, for
 * ussl_options.saved_session. No session yet, or a server → OSError(-28928); not an SSL socket →
 * OSError(22). Release it with ussl_session_release. */
UPY_API ussl_session *ussl_save_session(usocket *sock);

/* Drop a session (Python's garbage collector). Sockets resumed from it are not affected. NULL is
 * ignored. */
UPY_API void ussl_session_release(ussl_session *session);

#ifdef __cplusplus
}
#endif

#endif
