/*
 * upysock — uerrno: the device's error numbers.
 *
 * The board numbers errors the newlib way (EINPROGRESS is 119, not Linux's 115) and its uerrno
 * module also names lwIP, ESP-IDF, getaddrinfo and mbedTLS codes. One table below generates the
 * UERRNO_* constants, uerrno_errorcode() and (inside the library) the Linux → device translation,
 * so the three can never disagree. Sources: docs/firmware-notes.md.
 */
#ifndef UPYSOCK_UERRNO_H
#define UPYSOCK_UERRNO_H

#include "upy.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Errno names, newlib values. X(name, device value, listed): `listed` is 1 when the name is in
 * the device's uerrno.errorcode (then OSError prints "[Errno n] NAME"), 0 when the firmware can
 * raise the number but does not name it (then it prints as a bare number, e.g. "OSError: 127").
 * Every name here exists in Linux's <errno.h>: the library translates kernel errors by name.
 */
#define UERRNO_POSIX_LIST(X)   \
    X(EPERM, 1, 1)             \
    X(ENOENT, 2, 1)            \
    X(ESRCH, 3, 0)             \
    X(EINTR, 4, 0)             \
    X(EIO, 5, 1)               \
    X(ENXIO, 6, 0)             \
    X(E2BIG, 7, 0)             \
    X(ENOEXEC, 8, 0)           \
    X(EBADF, 9, 1)             \
    X(ECHILD, 10, 0)           \
    X(EAGAIN, 11, 1)           \
    X(ENOMEM, 12, 1)           \
    X(EACCES, 13, 1)           \
    X(EFAULT, 14, 0)           \
    X(EBUSY, 16, 0)            \
    X(EEXIST, 17, 1)           \
    X(EXDEV, 18, 0)            \
    X(ENODEV, 19, 1)           \
    X(ENOTDIR, 20, 0)          \
    X(EISDIR, 21, 1)           \
    X(EINVAL, 22, 1)           \
    X(ENFILE, 23, 0)           \
    X(EMFILE, 24, 0)           \
    X(ENOTTY, 25, 0)           \
    X(ETXTBSY, 26, 0)          \
    X(EFBIG, 27, 0)            \
    X(ENOSPC, 28, 0)           \
    X(ESPIPE, 29, 0)           \
    X(EROFS, 30, 0)            \
    X(EMLINK, 31, 0)           \
    X(EPIPE, 32, 0)            \
    X(EDOM, 33, 0)             \
    X(ERANGE, 34, 0)           \
    X(ENOMSG, 35, 0)           \
    X(EIDRM, 36, 0)            \
    X(EDEADLK, 45, 0)          \
    X(ENOLCK, 46, 0)           \
    X(ENOSTR, 60, 0)           \
    X(ENODATA, 61, 0)          \
    X(ETIME, 62, 0)            \
    X(ENOSR, 63, 0)            \
    X(ENOLINK, 67, 0)          \
    X(EPROTO, 71, 0)           \
    X(EMULTIHOP, 74, 0)        \
    X(EBADMSG, 77, 0)          \
    X(ENOSYS, 88, 0)           \
    X(ENOTEMPTY, 90, 0)        \
    X(ENAMETOOLONG, 91, 0)     \
    X(ELOOP, 92, 0)            \
    X(EOPNOTSUPP, 95, 1)       \
    X(EPFNOSUPPORT, 96, 0)     \
    X(ECONNRESET, 104, 1)      \
    X(ENOBUFS, 105, 1)         \
    X(EAFNOSUPPORT, 106, 0)    \
    X(EPROTOTYPE, 107, 0)      \
    X(ENOTSOCK, 108, 0)        \
    X(ENOPROTOOPT, 109, 0)     \
    X(ECONNREFUSED, 111, 1)    \
    X(EADDRINUSE, 112, 1)      \
    X(ECONNABORTED, 113, 1)    \
    X(ENETUNREACH, 114, 0)     \
    X(ENETDOWN, 115, 1)        \
    X(ETIMEDOUT, 116, 1)       \
    X(EHOSTDOWN, 117, 0)       \
    X(EHOSTUNREACH, 118, 1)    \
    X(EINPROGRESS, 119, 1)     \
    X(EALREADY, 120, 1)        \
    X(EDESTADDRREQ, 121, 0)    \
    X(EMSGSIZE, 122, 1)        \
    X(EPROTONOSUPPORT, 123, 0) \
    X(EADDRNOTAVAIL, 125, 0)   \
    X(ENETRESET, 126, 0)       \
    X(EISCONN, 127, 0)         \
    X(ENOTCONN, 128, 1)        \
    X(ETOOMANYREFS, 129, 0)    \
    X(EDQUOT, 132, 0)          \
    X(ESTALE, 133, 0)          \
    X(EILSEQ, 138, 0)          \
    X(EOVERFLOW, 139, 0)       \
    X(ECANCELED, 140, 0)       \
    X(ENOTRECOVERABLE, 141, 0) \
    X(EOWNERDEAD, 142, 0)

/*
 * The other names the device's uerrno lists (all listed): lwIP err_t, ESP-IDF esp_err_t,
 * lwIP netdb (getaddrinfo) and mbedTLS codes, in the device's order. X(name, device value).
 * The listed names that are errno names come first in the device's list; order only matters
 * for duplicates, and the list has none.
 */
#define UERRNO_EXTRA_LIST(X)                                  \
    X(ERR_MEM, -1)                                            \
    X(ERR_BUF, -2)                                            \
    X(ERR_TIMEOUT, -3)                                        \
    X(ERR_RTE, -4)                                            \
    X(ERR_INPROGRESS, -5)                                     \
    X(ERR_VAL, -6)                                            \
    X(ERR_WOULDBLOCK, -7)                                     \
    X(ERR_USE, -8)                                            \
    X(ERR_ALREADY, -9)                                        \
    X(ERR_ISCONN, -10)                                        \
    X(ERR_CONN, -11)                                          \
    X(ERR_IF, -12)                                            \
    X(ERR_ABRT, -13)                                          \
    X(ERR_RST, -14)                                           \
    X(ERR_CLSD, -15)                                          \
    X(ERR_ARG, -16)                                           \
    X(ESP_ERR_NO_MEM, 0x101)                                  \
    X(ESP_ERR_INVALID_ARG, 0x102)                             \
    X(ESP_ERR_INVALID_STATE, 0x103)                           \
    X(ESP_ERR_INVALID_SIZE, 0x104)                            \
    X(ESP_ERR_NOT_FOUND, 0x105)                               \
    X(ESP_ERR_NOT_SUPPORTED, 0x106)                           \
    X(ESP_ERR_TIMEOUT, 0x107)                                 \
    X(ESP_ERR_INVALID_RESPONSE, 0x108)                        \
    X(ESP_ERR_INVALID_CRC, 0x109)                             \
    X(ESP_ERR_INVALID_VERSION, 0x10A)                         \
    X(ESP_ERR_INVALID_MAC, 0x10B)                             \
    X(EAI_NONAME, 200)                                        \
    X(EAI_SERVICE, 201)                                       \
    X(EAI_FAIL, 202)                                          \
    X(EAI_MEMORY, 203)                                        \
    X(EAI_FAMILY, 204)                                        \
    X(HOST_NOT_FOUND, 210)                                    \
    X(NO_DATA, 211)                                           \
    X(NO_RECOVERY, 212)                                       \
    X(TRY_AGAIN, 213)                                         \
    X(MBEDTLS_ERR_NET_SOCKET_FAILED, -0x0042)                 \
    X(MBEDTLS_ERR_NET_CONNECT_FAILED, -0x0044)                \
    X(MBEDTLS_ERR_NET_BIND_FAILED, -0x0046)                   \
    X(MBEDTLS_ERR_NET_LISTEN_FAILED, -0x0048)                 \
    X(MBEDTLS_ERR_NET_ACCEPT_FAILED, -0x004A)                 \
    X(MBEDTLS_ERR_NET_RECV_FAILED, -0x004C)                   \
    X(MBEDTLS_ERR_NET_SEND_FAILED, -0x004E)                   \
    X(MBEDTLS_ERR_NET_CONN_RESET, -0x0050)                    \
    X(MBEDTLS_ERR_NET_UNKNOWN_HOST, -0x0052)                  \
    X(MBEDTLS_ERR_NET_BUFFER_TOO_SMALL, -0x0043)              \
    X(MBEDTLS_ERR_NET_INVALID_CONTEXT, -0x0045)               \
    X(MBEDTLS_ERR_NET_POLL_FAILED, -0x0047)                   \
    X(MBEDTLS_ERR_NET_BAD_INPUT_DATA, -0x0049)                \
    X(MBEDTLS_ERR_SSL_FEATURE_UNAVAILABLE, -0x7080)           \
    X(MBEDTLS_ERR_SSL_BAD_INPUT_DATA, -0x7100)                \
    X(MBEDTLS_ERR_SSL_INVALID_MAC, -0x7180)                   \
    X(MBEDTLS_ERR_SSL_INVALID_RECORD, -0x7200)                \
    X(MBEDTLS_ERR_SSL_CONN_EOF, -0x7280)                      \
    X(MBEDTLS_ERR_SSL_UNKNOWN_CIPHER, -0x7300)                \
    X(MBEDTLS_ERR_SSL_NO_CIPHER_CHOSEN, -0x7380)              \
    X(MBEDTLS_ERR_SSL_NO_RNG, -0x7400)                        \
    X(MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE, -0x7480)         \
    X(MBEDTLS_ERR_SSL_CERTIFICATE_TOO_LARGE, -0x7500)         \
    X(MBEDTLS_ERR_SSL_CERTIFICATE_REQUIRED, -0x7580)          \
    X(MBEDTLS_ERR_SSL_PRIVATE_KEY_REQUIRED, -0x7600)          \
    X(MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED, -0x7680)             \
    X(MBEDTLS_ERR_SSL_UNEXPECTED_MESSAGE, -0x7700)            \
    X(MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE, -0x7780)           \
    X(MBEDTLS_ERR_SSL_PEER_VERIFY_FAILED, -0x7800)            \
    X(MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY, -0x7880)             \
    X(MBEDTLS_ERR_SSL_BAD_HS_CLIENT_HELLO, -0x7900)           \
    X(MBEDTLS_ERR_SSL_BAD_HS_SERVER_HELLO, -0x7980)           \
    X(MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE, -0x7A00)            \
    X(MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE_REQUEST, -0x7A80)    \
    X(MBEDTLS_ERR_SSL_BAD_HS_SERVER_KEY_EXCHANGE, -0x7B00)    \
    X(MBEDTLS_ERR_SSL_BAD_HS_SERVER_HELLO_DONE, -0x7B80)      \
    X(MBEDTLS_ERR_SSL_BAD_HS_CLIENT_KEY_EXCHANGE, -0x7C00)    \
    X(MBEDTLS_ERR_SSL_BAD_HS_CLIENT_KEY_EXCHANGE_RP, -0x7C80) \
    X(MBEDTLS_ERR_SSL_BAD_HS_CLIENT_KEY_EXCHANGE_CS, -0x7D00) \
    X(MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE_VERIFY, -0x7D80)     \
    X(MBEDTLS_ERR_SSL_BAD_HS_CHANGE_CIPHER_SPEC, -0x7E00)     \
    X(MBEDTLS_ERR_SSL_BAD_HS_FINISHED, -0x7E80)               \
    X(MBEDTLS_ERR_SSL_ALLOC_FAILED, -0x7F00)                  \
    X(MBEDTLS_ERR_SSL_HW_ACCEL_FAILED, -0x7F80)               \
    X(MBEDTLS_ERR_SSL_HW_ACCEL_FALLTHROUGH, -0x6F80)          \
    X(MBEDTLS_ERR_SSL_COMPRESSION_FAILED, -0x6F00)            \
    X(MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION, -0x6E80)       \
    X(MBEDTLS_ERR_SSL_BAD_HS_NEW_SESSION_TICKET, -0x6E00)     \
    X(MBEDTLS_ERR_SSL_SESSION_TICKET_EXPIRED, -0x6D80)        \
    X(MBEDTLS_ERR_SSL_PK_TYPE_MISMATCH, -0x6D00)              \
    X(MBEDTLS_ERR_SSL_UNKNOWN_IDENTITY, -0x6C80)              \
    X(MBEDTLS_ERR_SSL_INTERNAL_ERROR, -0x6C00)                \
    X(MBEDTLS_ERR_SSL_COUNTER_WRAPPING, -0x6B80)              \
    X(MBEDTLS_ERR_SSL_WAITING_SERVER_HELLO_RENEGO, -0x6B00)   \
    X(MBEDTLS_ERR_SSL_HELLO_VERIFY_REQUIRED, -0x6A80)         \
    X(MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL, -0x6A00)              \
    X(MBEDTLS_ERR_SSL_NO_USABLE_CIPHERSUITE, -0x6980)         \
    X(MBEDTLS_ERR_SSL_WANT_READ, -0x6900)                     \
    X(MBEDTLS_ERR_SSL_WANT_WRITE, -0x6880)                    \
    X(MBEDTLS_ERR_SSL_TIMEOUT, -0x6800)                       \
    X(MBEDTLS_ERR_SSL_CLIENT_RECONNECT, -0x6780)              \
    X(MBEDTLS_ERR_SSL_UNEXPECTED_RECORD, -0x6700)             \
    X(MBEDTLS_ERR_SSL_NON_FATAL, -0x6680)                     \
    X(MBEDTLS_ERR_SSL_INVALID_VERIFY_HASH, -0x6600)           \
    X(MBEDTLS_ERR_SSL_CONTINUE_PROCESSING, -0x6580)           \
    X(MBEDTLS_ERR_SSL_ASYNC_IN_PROGRESS, -0x6500)             \
    X(MBEDTLS_ERR_PK_ALLOC_FAILED, -0x3F80)                   \
    X(MBEDTLS_ERR_PK_TYPE_MISMATCH, -0x3F00)                  \
    X(MBEDTLS_ERR_PK_BAD_INPUT_DATA, -0x3E80)                 \
    X(MBEDTLS_ERR_PK_FILE_IO_ERROR, -0x3E00)                  \
    X(MBEDTLS_ERR_PK_KEY_INVALID_VERSION, -0x3D80)            \
    X(MBEDTLS_ERR_PK_KEY_INVALID_FORMAT, -0x3D00)             \
    X(MBEDTLS_ERR_PK_UNKNOWN_PK_ALG, -0x3C80)                 \
    X(MBEDTLS_ERR_PK_PASSWORD_REQUIRED, -0x3C00)              \
    X(MBEDTLS_ERR_PK_PASSWORD_MISMATCH, -0x3B80)              \
    X(MBEDTLS_ERR_PK_INVALID_PUBKEY, -0x3B00)                 \
    X(MBEDTLS_ERR_PK_INVALID_ALG, -0x3A80)                    \
    X(MBEDTLS_ERR_PK_UNKNOWN_NAMED_CURVE, -0x3A00)            \
    X(MBEDTLS_ERR_PK_FEATURE_UNAVAILABLE, -0x3980)            \
    X(MBEDTLS_ERR_PK_SIG_LEN_MISMATCH, -0x3900)               \
    X(MBEDTLS_ERR_PK_HW_ACCEL_FAILED, -0x3880)

#define UERRNO_ENUM_POSIX_(name, value, listed) UERRNO_##name = (value),
#define UERRNO_ENUM_EXTRA_(name, value) UERRNO_##name = (value),
/* UERRNO_EINPROGRESS == 119, UERRNO_MBEDTLS_ERR_SSL_TIMEOUT == -26624, ... */
enum uerrno_code { UERRNO_POSIX_LIST(UERRNO_ENUM_POSIX_) UERRNO_EXTRA_LIST(UERRNO_ENUM_EXTRA_) };
#undef UERRNO_ENUM_POSIX_
#undef UERRNO_ENUM_EXTRA_

/* Codes the device raises that uerrno does not name (they print as bare numbers). */
#define UERRNO_MBEDTLS_ERR_X509_CERT_VERIFY_FAILED (-0x2700) /* -9984: the peer failed CERT_REQUIRED */
#define UERRNO_MBEDTLS_ERR_X509_INVALID_FORMAT (-0x2180)     /* -8576: a certificate file that does not parse */

/* uerrno.errorcode[code]: the name, or NULL when the device's uerrno does not list the code. */
UPY_API const char *uerrno_errorcode(int code);

#ifdef __cplusplus
}
#endif

#endif
