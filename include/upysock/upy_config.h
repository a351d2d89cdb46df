/*
 * upysock — configuration: the device profile and the virtual LAN.
 *
 * Everything here is process-wide. Settings come from the environment the first time the library
 * is used (UPYSOCK_PROFILE, UPYSOCK_LIMITS, UPYSOCK_REMAP, UPYSOCK_NET, UPYSOCK_FLASH, UPYSOCK_LOG,
 * UPYSOCK_FAULTS, UPYSOCK_DEVICE_IP, UPYSOCK_TRACE, UPYSOCK_TRACE_DATA, UPYSOCK_PCAP, UPYSOCK_KEYLOG
 * or SSLKEYLOGFILE);
 * the upy_config_* calls override them. A malformed variable is never ignored: it is reported by
 * upy_config_check() and by the first socket call, as ValueError naming the variable.
 * docs/configuration.md has the syntax and examples.
 */
#ifndef UPYSOCK_UPY_CONFIG_H
#define UPYSOCK_UPY_CONFIG_H

#include "upy.h" /* UPY_API; upy.h includes this header back, after defining it */

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A device profile: every device fact the library emulates, in one row. The numbers are the
 * board's, with the firmware source that fixes them. Profiles are data: selecting one changes
 * behaviour without any other switch. Read the active one with upy_profile_current().
 */
typedef struct upy_profile {
    const char *name;        /* "pycom-1.20.2" */
    const char *description; /* one line for humans */

    /* --- sockets (lwIP as configured by ESP-IDF 3.3 + Pycom sdkconfig) --- */
    int max_sockets;            /* 10: CONFIG_LWIP_MAX_SOCKETS, sockets open at once */
    int fileno_base;            /* 54: LWIP_SOCKET_OFFSET, fileno() of the first slot */
    int socket_exhausted_errno; /* 105 ENOBUFS: socket() with every slot taken */
    int accept_exhausted_errno; /* 23 ENFILE: accept() with every slot taken */
    int recv_cap;               /* 2048: WLAN_MAX_RX_SIZE, bytes per recv on plain sockets; 0 = none */
    int tcp_sndbuf;             /* 5744: TCP_SND_BUF, what one non-blocking send can queue */
    int tcp_mss;                /* 1436: CONFIG_TCP_MSS; with tcp_sndbuf it fixes TCP_SNDLOWAT, the
                                   room a socket needs to poll writable (min(max(sndbuf / 2,
                                   2 * mss + 1), sndbuf - 1): 2873) */
    int backlog_min;            /* 1: lwIP turns a backlog of 0 into 1 */
    int backlog_max;            /* 255: the backlog is a u8_t, larger values are clamped */
    int accept_mbox;            /* 6: DEFAULT_ACCEPTMBOX_SIZE, connections a listener holds
                                   unaccepted whatever its backlog */

    /* --- uselect (extmod/moduselect.c + lwip_select) --- */
    int poll_tls_buffered_readable; /* 0: plaintext buffered in the TLS layer does not make an SSL
                                       socket poll readable (the device polls the raw fd only) */

    /* --- ssl (esp32/mods/modussl.c, mbedTLS 2.16) --- */
    int tls_max_version;          /* 0x0303: TLS 1.2, the newest the device speaks */
    int tls_setblocking_sets_fd;  /* 0: setblocking/settimeout on an SSL socket only set the TLS
                                     read timeout (>= 1.20.1); 1: they set the fd mode (1.20.0) */
    int tls_read_timeout_ms;      /* -1: the read timeout follows settimeout (r6); > 0: fixed (1.20.0) */
    int tls_handshake_timeouts;   /* 10: read timeouts tolerated in a handshake (wrap_socket timeout=) */
} upy_profile;

/* Select a profile by name ("pycom-1.20.2", the default, or "pycom-1.20.0"). Overrides made with
 * upy_config_limit() are dropped. Unknown name → -1, ValueError. */
UPY_API int upy_config_profile(const char *name);

/* The active profile, with any limit overrides applied. Never NULL. The pointer stays valid for
 * the life of the process; a later change installs a new profile instead of editing this one. */
UPY_API const upy_profile *upy_profile_current(void);

/* The names of the built-in profiles, NULL-terminated. */
UPY_API const char *const *upy_profile_names(void);

/* Limits a test or a load tool may raise beyond the board's (e.g. 2000 sockets), and the one
 * device quirk a port may want to switch off while it finds its feet. */
typedef enum upy_limit {
    UPY_LIMIT_MAX_SOCKETS,  /* "max_sockets", 1..65536 */
    UPY_LIMIT_RECV_CAP,     /* "recv_cap", 0 (no cap) or 1..1 MiB */
    UPY_LIMIT_TCP_SNDBUF,   /* "tcp_sndbuf", 0 (no cap) or 536..64 MiB */
    UPY_LIMIT_BACKLOG_MAX,  /* "backlog_max", 1..65535 */
    UPY_LIMIT_POLL_TLS_BUFFERED, /* "poll_tls_buffered": poll_tls_buffered_readable, 0 (the
                                    device) or 1 (plaintext inside TLS makes poll say POLLIN) */
    UPY_LIMIT_ACCEPT_MBOX,  /* "accept_mbox", 1..65535 */
} upy_limit;

/* Override one limit of the active profile. Out of range or unknown → -1, ValueError.
 * Also settable as UPYSOCK_LIMITS="max_sockets=2000,recv_cap=65536". */
UPY_API int upy_config_limit(upy_limit which, long value);

/* Several limits at once, in UPYSOCK_LIMITS's syntax ("max_sockets=2000,recv_cap=0"): every item
 * is checked before any is applied. Malformed → -1, ValueError with the variable's message. */
UPY_API int upy_config_limits(const char *spec);

/* Replace the virtual LAN's remap rules (syntax of UPYSOCK_REMAP, e.g.
 * "192.168.0.249:6543=127.0.0.1:16543,broker.local=127.0.0.1"). "" clears them.
 * A malformed rule → -1, ValueError naming it; the previous rules stay. */
UPY_API int upy_config_remap(const char *rules);

/* "sandbox" (default: every address lands on loopback) or "host" (addresses without a rule are
 * dialled for real; DNS is used). Else → -1, ValueError. */
UPY_API int upy_config_net(const char *mode);

/* The host directory that the device's /flash maps to (default "./flash"). */
UPY_API int upy_config_flash(const char *dir);

/* Where the virtual LAN logs its decisions, one line each ("listen 192.168.0.249:6543 ->
 * 127.0.0.1:16543"): an fd, or -1 for none (default). UPYSOCK_LOG=stderr | fd:N | <path>. */
UPY_API int upy_config_log(int fd);

/* Where the log goes, in UPYSOCK_LOG's syntax: "stderr", "fd:N" (an open fd) or a path to append
 * to. Else → -1, ValueError. */
UPY_API int upy_config_log_to(const char *spec);

/* Replace the fault rules (syntax of UPYSOCK_FAULTS, docs/faults.md), e.g.
 * "seed=7; reset *:1883 after=100; linkdown at=5s for=2s": the failures a board meets in the field,
 * each giving the board's exact error, at the same calls on every run with the same seed. Counts
 * and the time origin of at=/for= restart with each call. "" clears them (no cost left but one
 * predictable branch per socket call). A malformed rule → -1, ValueError quoting it; the previous
 * rules stay. */
UPY_API int upy_config_faults(const char *rules);

/* Apply the environment now and report the first configuration error as ValueError. */
UPY_API int upy_config_check(void);

/* The board's own address on the virtual LAN (UPYSOCK_DEVICE_IP, default "192.168.0.249"): what
 * the Python front's WLAN.ifconfig() reports and the pcap's device side. A dotted quad, not
 * 0.0.0.0, else -1, ValueError. */
UPY_API int upy_config_device_ip(const char *addr);

/* The board's own address as a dotted quad into out (snprintf-style: the length it needs). */
UPY_API size_t upy_config_get_device_ip(char *out, size_t size);

/* The JSON Lines trace of every socket, poll and TLS event (UPYSOCK_TRACE; docs/observe.md):
 * "stderr", "fd:N", a file path (truncated), or "" for none. -1, ValueError when it cannot be
 * written. */
UPY_API int upy_config_trace(const char *spec);

/* The first `bytes` payload bytes of each send/recv in the trace, escaped (UPYSOCK_TRACE_DATA;
 * 0..4096, default 0). */
UPY_API int upy_config_trace_data(long bytes);

/* A pcap of the virtual LAN as the board sees it (UPYSOCK_PCAP): a file path (truncated), or ""
 * for none. */
UPY_API int upy_config_pcap(const char *path);

/* The TLS key log in NSS format (UPYSOCK_KEYLOG, else SSLKEYLOGFILE): a file path (appended to),
 * or "" for none. */
UPY_API int upy_config_keylog(const char *path);

/* Map a device file path to the host: "/flash/cert/ca.pem" → "<flash dir>/cert/ca.pem"; any other
 * path is returned unchanged. snprintf-style. */
UPY_API size_t upy_config_map_path(const char *path, char *out, size_t size);

#ifdef __cplusplus
}
#endif

#endif
