/*
 * upysock — usocket: socket objects with the Pycom board's behaviour (firmware 1.20.2.r6).
 *
 * Python                                   C
 *   s = usocket.socket()                     usocket *s = usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_STREAM, 0);
 *   s.connect(("192.168.0.234", 6543))       usocket_connect(s, &(usocket_addr){"192.168.0.234", 6543});
 *   r = s.recv(12)                           ssize_t n = usocket_recv(s, r, 12);
 *   s.close()                                usocket_close(s);
 *   (the object goes out of scope)           usocket_release(s);
 *
 * Failures return -1 (NULL for handles) with the current exception set (upy.h). Numbers are the
 * device's: errors are newlib errnos (uerrno.h), option numbers are lwIP's. Addresses are dotted
 * quads on the virtual LAN: by default every address lands on loopback (docs/configuration.md).
 *
 * Every handle may be used from several threads at once. close() from one thread wakes a call
 * blocked in another, which then fails with OSError(9) — except a blocked send, which lwIP
 * aborts with OSError(128) (ENOTCONN), whatever part of it had gone out.
 */
#ifndef UPYSOCK_USOCKET_H
#define UPYSOCK_USOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "upy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Module constants, device values (SEMANTICS §2.1). */
enum {
    USOCKET_AF_INET = 2,
    USOCKET_AF_LORA = 160,
    USOCKET_AF_SIGFOX = 161,
    USOCKET_SOCK_STREAM = 1,
    USOCKET_SOCK_DGRAM = 2,
    USOCKET_SOCK_RAW = 3,
    USOCKET_IPPROTO_IP = 0,
    USOCKET_IPPROTO_ICMP = 1,
    USOCKET_IPPROTO_TCP = 6,
    USOCKET_IPPROTO_UDP = 17,
    USOCKET_IPPROTO_IPV6 = 41,
    USOCKET_IPPROTO_RAW = 255,
    USOCKET_SOL_SOCKET = 0xFFF,
    USOCKET_SO_REUSEADDR = 4,
    USOCKET_IP_ADD_MEMBERSHIP = 3,
};

/* lwIP option numbers the device does not export but accepts numerically (lwip/sockets.h). */
enum {
    USOCKET_SO_KEEPALIVE = 0x0008,
    USOCKET_SO_BROADCAST = 0x0020,
    USOCKET_SO_LINGER = 0x0080,
    USOCKET_SO_SNDBUF = 0x1001,
    USOCKET_SO_RCVBUF = 0x1002,
    USOCKET_SO_SNDTIMEO = 0x1005,
    USOCKET_SO_RCVTIMEO = 0x1006,
    USOCKET_SO_ERROR = 0x1007,
    USOCKET_SO_TYPE = 0x1008,
    USOCKET_SO_NO_CHECK = 0x100a, /* UDP: no checksum */
    USOCKET_TCP_NODELAY = 0x01,
    USOCKET_TCP_KEEPALIVE = 0x02,
    USOCKET_TCP_KEEPIDLE = 0x03,
    USOCKET_TCP_KEEPINTVL = 0x04,
    USOCKET_TCP_KEEPCNT = 0x05,
    USOCKET_IP_TOS = 1,
    USOCKET_IP_TTL = 2,
    USOCKET_IP_DROP_MEMBERSHIP = 4,
    USOCKET_IP_MULTICAST_TTL = 5,
    USOCKET_IP_MULTICAST_IF = 6,
    USOCKET_IP_MULTICAST_LOOP = 7,
};

/* settimeout(None): block without a limit (any negative value means the same, as on the device). */
#define USOCKET_TIMEOUT_NONE (-1.0)

/* An opaque socket object. */
typedef struct usocket usocket;

/* An address tuple ('a.b.c.d', port). `ip` must hold a dotted quad; "" means 0.0.0.0. */
typedef struct usocket_addr {
    char ip[16];
    int port;
} usocket_addr;

/* One getaddrinfo() entry: (family, type, proto, canonname, (ip, port)). */
typedef struct usocket_addrinfo {
    int family;       /* always 2 (AF_INET) */
    int socktype;     /* always 1 (SOCK_STREAM) */
    int proto;        /* always 0 */
    char canonname[1]; /* always "" */
    usocket_addr sockaddr;
} usocket_addrinfo;

/* socket(af, type, proto). af must be AF_INET; type SOCK_STREAM or SOCK_DGRAM; proto is ignored
 * and derived from the type, as lwIP does. SO_REUSEADDR is on, the socket blocks.
 * Every slot taken → OSError(105); AF_LORA/AF_SIGFOX → OSError("Network card not available");
 * another family → OSError("incorrect socket type"). */
UPY_API usocket *usocket_socket(int af, int type, int proto);

/* Another reference to the same object (released with usocket_release). */
UPY_API usocket *usocket_ref(usocket *s);

/* Drop a reference: the C counterpart of the Python object going away. The last one closes the
 * socket (the finaliser) and frees it. NULL is ignored. */
UPY_API void usocket_release(usocket *s);

/* A pointer of the caller's own, kept with the handle (a language binding's wrapper object, an
 * event loop's record); NULL until set. Each handle has its own: an SSL socket's is not the
 * plain socket's it wraps. Safe from any thread. Not a socket → -1 / NULL, TypeError. */
UPY_API int usocket_set_data(usocket *s, void *data);
UPY_API void *usocket_get_data(const usocket *s);

/* close(): idempotent, never fails on a valid handle. Later I/O raises OSError(9). For an SSL
 * socket a close_notify is sent first. The handle stays valid until released. */
UPY_API int usocket_close(usocket *s);

/* bind(addr). Hostnames → ValueError("invalid arguments"); port already taken → OSError(112). */
UPY_API int usocket_bind(usocket *s, const usocket_addr *addr);

/* listen(backlog). The C call has no "no argument" form: 0 (what the device passes) and negative
 * values give the device's backlog of 1; values above 255 are clamped. UDP → OSError(95). */
UPY_API int usocket_listen(usocket *s, int backlog);

/* accept() → the new socket, and its peer as ('a.b.c.d', port) in *peer (may be NULL).
 * The new socket blocks (whatever the listener's timeout, which it copies but does not honour,
 * as on the device). Non-blocking with nothing pending, or timed out → OSError(11);
 * every slot taken → OSError(23). */
UPY_API usocket *usocket_accept(usocket *s, usocket_addr *peer);

/* connect(addr), three device paths by the socket's timeout:
 *  blocking  — returns when connected; refused → OSError(104); unreachable → OSError(118);
 *  timeout 0 — OSError(119) EINPROGRESS at once; again while pending → 120; connected → 127;
 *              after a failed attempt → 128 (use a new socket);
 *  timeout t — waits up to t; on expiry the socket is CLOSED and TimeoutError raised. A refused
 *              connection counts as connected here; the error shows on the next send/recv. An
 *              error lwIP gives at once (connected or listening 127, connecting 120, after a
 *              failed attempt 128) is raised and CLOSES the socket too.
 * On an SSL socket the TLS handshake follows the TCP connect (ussl.h). */
UPY_API int usocket_connect(usocket *s, const usocket_addr *addr);

/* send(buf) → bytes queued. Blocking: all of them, or an error (never a partial count; close()
 * from another thread while it waits → OSError(128)). Non-blocking: what fits in the device's send
 * buffer (5744), nothing → OSError(11); still connecting → 119; never connected → 128.
 * Timeout: nothing sent in time → TimeoutError. len 0: as the firmware, no send at all and
 * OSError of the thread's last socket errno (0 if it never had one; TimeoutError when that was
 * 11 and the socket has a timeout). */
UPY_API ssize_t usocket_send(usocket *s, const void *buf, size_t len);

/* send(str): the device accepts text and sends its bytes. */
UPY_API ssize_t usocket_send_str(usocket *s, const char *text);

/* sendall(buf): on the device this is send() itself, partial counts included. */
UPY_API ssize_t usocket_sendall(usocket *s, const void *buf, size_t len);

/* recv(bufsize) → bytes received, at most 2048 per call on plain sockets. 0 means b'': the peer
 * closed, or (non-blocking) no data yet, or a connect is still pending. Timeout → TimeoutError;
 * reset → OSError(104), and every time after. Never connected: non-blocking b'', timed
 * TimeoutError after the timeout (as lwIP), blocking OSError(128) (lwIP would wait forever). */
UPY_API ssize_t usocket_recv(usocket *s, void *buf, size_t bufsize);

/* sendto(buf, addr) → bytes sent (one datagram). len 0 → 0, nothing sent. On TCP the address is
 * ignored. */
UPY_API ssize_t usocket_sendto(usocket *s, const void *buf, size_t len, const usocket_addr *to);

/* recvfrom(bufsize) → bytes of ONE datagram (at most 2048; the rest of it is discarded), and its
 * source in *from (may be NULL). Non-blocking with nothing queued → OSError(11) (unlike recv). */
UPY_API ssize_t usocket_recvfrom(usocket *s, void *buf, size_t bufsize, usocket_addr *from);

/* setsockopt(level, opt, int value) with lwIP numbers (USOCKET_SOL_SOCKET, ...).
 * Unknown option → OSError(109). */
UPY_API int usocket_setsockopt_int(usocket *s, int level, int opt, int value);

/* setsockopt(level, opt, bytes value), e.g. IP_ADD_MEMBERSHIP with an 8-byte ip_mreq,
 * SO_RCVTIMEO with the device's 8-byte struct timeval. Wrong size → OSError(22). SO_LINGER, like
 * SO_SNDBUF, is OSError(109): the device's lwIP is built without LWIP_SO_LINGER. */
UPY_API int usocket_setsockopt(usocket *s, int level, int opt, const void *value, size_t len);

/* settimeout(seconds): negative (USOCKET_TIMEOUT_NONE) = blocking; 0 = non-blocking; t > 0 = a
 * timeout of int(t*1000) ms, so t < 0.001 is non-blocking. NaN → ValueError. */
UPY_API int usocket_settimeout(usocket *s, double seconds);

/* setblocking(flag): true ≡ settimeout(None), false ≡ settimeout(0). */
UPY_API int usocket_setblocking(usocket *s, bool flag);

/* makefile(mode): the socket itself (no new reference). Mode "rb" or "wb", or NULL for no
 * argument; anything else → ValueError("invalid argument(s) value"). */
UPY_API usocket *usocket_makefile(usocket *s, const char *mode);

/* fileno(): the device-style descriptor number, 54.. (lwIP's LWIP_SOCKET_OFFSET + slot), the
 * oldest free slot first; -1 after close. Not a kernel fd. */
UPY_API int usocket_fileno(usocket *s);

/* read(n): loops until n bytes or EOF → count (0 = EOF). Nothing read before it would block or
 * time out → UPY_NONE. */
UPY_API ssize_t usocket_read(usocket *s, void *buf, size_t n);

/* readinto(buf, n): the same loop as read(); in C both fill a caller's buffer. */
UPY_API ssize_t usocket_readinto(usocket *s, void *buf, size_t n);

/* readline(limit): bytes up to and including '\n', at most `limit`, one byte per lower call →
 * count (0 = EOF). The first byte would block → UPY_NONE. */
UPY_API ssize_t usocket_readline(usocket *s, void *buf, size_t limit);

/* write(buf): loops until all is written → count (a timeout after some bytes gives the short
 * count). The first attempt would block or times out → UPY_NONE. */
UPY_API ssize_t usocket_write(usocket *s, const void *buf, size_t len);

/* getaddrinfo(host, port) → exactly one entry written to *out, returns 1 (the list length).
 * port <= 0 or > 65535 → OSError(201); no answer → OSError(202). Answers come from the virtual
 * LAN's rules, "localhost" and numeric addresses; real DNS only with UPYSOCK_NET=host. */
UPY_API int usocket_getaddrinfo(const char *host, int port, usocket_addrinfo *out);

/* dnsserver(i) → the stored DNS server i (0 primary, 1 backup; before any is set "0.0.0.0") as a
 * dotted quad in ip[16]; returns the tuple's first item, i & 0xFF, as the firmware does (so a
 * negative i is accepted: dnsserver(-1) gives 255 and "0.0.0.0"). i >= 2 → ValueError(
 * "Index out of range!\n"). */
UPY_API int usocket_dnsserver(int index, char ip[16]);

/* dnsserver(i, ip): store DNS server i (a dotted quad; "" = 0.0.0.0, anything else
 * ValueError("invalid arguments")). The emulator keeps the value for dnsserver() but never sends
 * DNS traffic to it: names resolve through the virtual LAN (docs/configuration.md). */
UPY_API int usocket_dnsserver_set(int index, const char *ip);

#ifdef __cplusplus
}
#endif

#endif
