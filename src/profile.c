/*
 * The device profiles: every limit and quirk the library emulates, one row per firmware, one
 * place. Documented like lwIP's opt.h: each number names the firmware setting it comes from
 * (docs/firmware-notes.md and SEMANTICS.md have the citations).
 *
 * The active profile is an immutable snapshot behind an atomic pointer: readers on hot paths pay
 * one load; a change installs a new snapshot and keeps the old one alive, because callers may
 * still hold pointers from upy_profile_current().
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "internal.h"
#include "upysock/usocket.h"

/* lwIP as built by ESP-IDF 3.3 with Pycom's sdkconfig: shared by every 1.20.x profile. */
#define PYCOM_LWIP_SOCKETS                                                                         \
    .max_sockets = 10,                     /* CONFIG_LWIP_MAX_SOCKETS */                           \
    .fileno_base = 54,                     /* LWIP_SOCKET_OFFSET = FD_SETSIZE 64 - 10 */           \
    .socket_exhausted_errno = UERRNO_ENOBUFS, /* netconn pool empty in lwip_socket */              \
    .accept_exhausted_errno = UERRNO_ENFILE,  /* alloc_socket fails in lwip_accept */              \
    .recv_cap = 2048,                      /* WLAN_MAX_RX_SIZE in lwipsocket.c */                  \
    .tcp_sndbuf = 5744,                    /* TCP_SND_BUF = 4 * TCP_MSS 1436 */                    \
    .tcp_mss = 1436,                       /* CONFIG_TCP_MSS (sdkconfig.h); for TCP_SNDLOWAT */    \
    .backlog_min = 1,                      /* tcp_backlog_set: 0 becomes 1 */                      \
    .backlog_max = 255,                    /* backlog is a u8_t */                                 \
    .accept_mbox = 6,                      /* DEFAULT_ACCEPTMBOX_SIZE (IDF lwipopts.h) */          \
    .poll_tls_buffered_readable = 0,       /* SSL sockets are polled on the raw fd */              \
    .tls_max_version = 0x0303,             /* CONFIG_MBEDTLS_SSL_PROTO_TLS1_2, no TLS 1.3 */       \
    .tls_handshake_timeouts = 10           /* wrap_socket(timeout=) default */

static const upy_profile builtin[] = {
    {
        .name = "pycom-1.20.2",
        .description = "Pycom firmware 1.20.2.r6, the last stable release (default)",
        PYCOM_LWIP_SOCKETS,
        .tls_setblocking_sets_fd = 0, /* PYFW-353: settimeout only sets the mbedTLS read timeout */
        .tls_read_timeout_ms = -1,    /* follows settimeout on the SSL socket; none by default */
    },
    {
        .name = "pycom-1.20.0",
        .description = "Pycom firmware 1.20.0, the era of the socket tutorials",
        PYCOM_LWIP_SOCKETS,
        .tls_setblocking_sets_fd = 1, /* setblocking(False) on an SSL socket made the fd non-blocking */
        .tls_read_timeout_ms = 1000,  /* fixed mbedTLS read timeout */
    },
};
#define BUILTIN_COUNT (sizeof builtin / sizeof builtin[0])

/* The names, NULL-terminated: filled from the table, so each name is written once. */
static const char *builtin_names[BUILTIN_COUNT + 1];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void names_fill(void)
{
    for (size_t i = 0; i < BUILTIN_COUNT; i++)
        builtin_names[i] = builtin[i].name;
}

/* The overridable limits: name, field, range. */
static const struct {
    const char *name;
    size_t offset;
    long min, max;
    bool zero_ok; /* 0 means "no cap" */
} limits[] = {
    [UPY_LIMIT_MAX_SOCKETS] = {"max_sockets", offsetof(upy_profile, max_sockets), 1, 65536, false},
    [UPY_LIMIT_RECV_CAP] = {"recv_cap", offsetof(upy_profile, recv_cap), 1, 1L << 20, true},
    [UPY_LIMIT_TCP_SNDBUF] = {"tcp_sndbuf", offsetof(upy_profile, tcp_sndbuf), 536, 64L << 20, true},
    [UPY_LIMIT_BACKLOG_MAX] = {"backlog_max", offsetof(upy_profile, backlog_max), 1, 65535, false},
    [UPY_LIMIT_POLL_TLS_BUFFERED] = {"poll_tls_buffered", offsetof(upy_profile, poll_tls_buffered_readable), 0, 1,
                                     false},
    [UPY_LIMIT_ACCEPT_MBOX] = {"accept_mbox", offsetof(upy_profile, accept_mbox), 1, 65535, false},
};
#define LIMIT_COUNT (sizeof limits / sizeof limits[0])

struct snapshot {
    struct snapshot *next;
    upy_profile profile;
};

static _Atomic(const upy_profile *) active = &builtin[0];
static pthread_mutex_t change_lock = PTHREAD_MUTEX_INITIALIZER;
static struct snapshot *snapshots; /* every snapshot ever installed, kept for readers */

const upy_profile *profile(void)
{
    return atomic_load_explicit(&active, memory_order_acquire);
}

const char *const *upy_profile_names(void)
{
    pthread_once(&names_once, names_fill);
    return builtin_names;
}

/* Installs a copy of `base` with one limit (or none: -1) changed. */
static int install(const upy_profile *base, int limit, long value)
{
    struct snapshot *snap = malloc(sizeof *snap);
    if (!snap)
        return -1;
    snap->profile = *base;
    if (limit >= 0)
        *(int *)((char *)&snap->profile + limits[limit].offset) = (int)value;
    pthread_mutex_lock(&change_lock);
    snap->next = snapshots;
    snapshots = snap;
    atomic_store_explicit(&active, &snap->profile, memory_order_release);
    pthread_mutex_unlock(&change_lock);
    return 0;
}

int profile_select(const char *name, char *err, size_t errsize)
{
    for (size_t i = 0; name && i < BUILTIN_COUNT; i++) {
        if (strcmp(builtin[i].name, name) == 0) {
            atomic_store_explicit(&active, &builtin[i], memory_order_release);
            return 0;
        }
    }
    int n = snprintf(err, errsize, "unknown profile '%s' (known:", name ? name : "(null)");
    for (size_t i = 0; i < BUILTIN_COUNT && n >= 0 && (size_t)n < errsize; i++)
        n += snprintf(err + n, errsize - (size_t)n, " %s%s", builtin[i].name, i + 1 < BUILTIN_COUNT ? "," : ")");
    return -1;
}

static int limit_check(int which, long value, char *err, size_t errsize)
{
    if (which < 0 || (size_t)which >= LIMIT_COUNT) {
        snprintf(err, errsize, "unknown limit %d", which);
        return -1;
    }
    if (!(value == 0 && limits[which].zero_ok) && (value < limits[which].min || value > limits[which].max)) {
        snprintf(err, errsize, "%s=%ld is out of range (%ld..%ld%s)", limits[which].name, value,
                 limits[which].min, limits[which].max, limits[which].zero_ok ? ", or 0 for none" : "");
        return -1;
    }
    return 0;
}

int profile_set_limit(int which, long value, char *err, size_t errsize)
{
    if (limit_check(which, value, err, errsize) < 0)
        return -1;
    if (install(profile(), which, value) < 0) {
        snprintf(err, errsize, "out of memory");
        return -1;
    }
    return 0;
}

/* "max_sockets=2000,recv_cap=0": every item is checked before any is applied. */
int profile_set_limits(const char *spec, char *err, size_t errsize)
{
    long values[LIMIT_COUNT];
    bool given[LIMIT_COUNT] = {false};
    char item[128];
    for (const char *p = spec; *p;) {
        size_t len = strcspn(p, ",");
        snprintf(item, sizeof item, "%.*s", (int)len, p);
        p += len + (p[len] == ',');
        char *eq = strchr(item, '=');
        size_t which = 0;
        while (eq && which < LIMIT_COUNT && (strlen(limits[which].name) != (size_t)(eq - item) ||
                                             strncmp(limits[which].name, item, (size_t)(eq - item))))
            which++;
        long v = 0;
        if (!eq || which == LIMIT_COUNT || !config_parse_digits(eq + 1, &v)) {
            int n = snprintf(err, errsize, "bad limit '%s' (want name=number; names:", item);
            for (size_t i = 0; i < LIMIT_COUNT && n >= 0 && (size_t)n < errsize; i++)
                n += snprintf(err + n, errsize - (size_t)n, " %s%s", limits[i].name, i + 1 < LIMIT_COUNT ? "," : ")");
            return -1;
        }
        if (limit_check((int)which, v, err, errsize) < 0)
            return -1;
        values[which] = v;
        given[which] = true;
    }
    for (size_t i = 0; i < LIMIT_COUNT; i++)
        if (given[i] && profile_set_limit((int)i, values[i], err, errsize) < 0)
            return -1;
    return 0;
}

/* setsockopt as lwIP 2.0.3 implements it, with the Pycom build's options (docs/firmware-notes.md
 * §3): anything missing here is ENOPROTOOPT on the device, SO_LINGER and SO_SNDBUF included. */
static const struct profile_sockopt sockopts[] = {
    {USOCKET_SOL_SOCKET, USOCKET_SO_REUSEADDR, 4, SOCKOPT_ANY, SOCKOPT_INT, HOST_OPT_REUSEADDR},
    {USOCKET_SOL_SOCKET, USOCKET_SO_KEEPALIVE, 4, SOCKOPT_ANY, SOCKOPT_INT, HOST_OPT_KEEPALIVE},
    {USOCKET_SOL_SOCKET, USOCKET_SO_BROADCAST, 4, SOCKOPT_ANY, SOCKOPT_INT, HOST_OPT_BROADCAST},
    {USOCKET_SOL_SOCKET, USOCKET_SO_RCVBUF, 4, SOCKOPT_ANY, SOCKOPT_INT, HOST_OPT_RCVBUF},
    {USOCKET_SOL_SOCKET, USOCKET_SO_SNDTIMEO, 8, SOCKOPT_ANY, SOCKOPT_TIMEVAL, HOST_OPT_SNDTIMEO},
    {USOCKET_SOL_SOCKET, USOCKET_SO_RCVTIMEO, 8, SOCKOPT_ANY, SOCKOPT_TIMEVAL, HOST_OPT_RCVTIMEO},
    {USOCKET_SOL_SOCKET, USOCKET_SO_NO_CHECK, 4, SOCKOPT_UDP, SOCKOPT_INT, HOST_OPT_NO_CHECK},
    {USOCKET_IPPROTO_TCP, USOCKET_TCP_NODELAY, 4, SOCKOPT_TCP, SOCKOPT_INT, HOST_OPT_NODELAY},
    {USOCKET_IPPROTO_TCP, USOCKET_TCP_KEEPALIVE, 4, SOCKOPT_TCP, SOCKOPT_IDLE_MS, HOST_OPT_KEEPIDLE},
    {USOCKET_IPPROTO_TCP, USOCKET_TCP_KEEPIDLE, 4, SOCKOPT_TCP, SOCKOPT_INT, HOST_OPT_KEEPIDLE},
    {USOCKET_IPPROTO_TCP, USOCKET_TCP_KEEPINTVL, 4, SOCKOPT_TCP, SOCKOPT_INT, HOST_OPT_KEEPINTVL},
    {USOCKET_IPPROTO_TCP, USOCKET_TCP_KEEPCNT, 4, SOCKOPT_TCP, SOCKOPT_INT, HOST_OPT_KEEPCNT},
    {USOCKET_IPPROTO_IP, USOCKET_IP_TOS, 4, SOCKOPT_ANY, SOCKOPT_BYTE, HOST_OPT_IP_TOS},
    {USOCKET_IPPROTO_IP, USOCKET_IP_TTL, 4, SOCKOPT_ANY, SOCKOPT_BYTE, HOST_OPT_IP_TTL},
    {USOCKET_IPPROTO_IP, USOCKET_IP_ADD_MEMBERSHIP, 8, SOCKOPT_UDP, SOCKOPT_MREQ, HOST_OPT_ADD_MEMBERSHIP},
    {USOCKET_IPPROTO_IP, USOCKET_IP_DROP_MEMBERSHIP, 8, SOCKOPT_UDP, SOCKOPT_MREQ, HOST_OPT_DROP_MEMBERSHIP},
    {USOCKET_IPPROTO_IP, USOCKET_IP_MULTICAST_TTL, 1, SOCKOPT_UDP, SOCKOPT_BYTE, HOST_OPT_MULTICAST_TTL},
    {USOCKET_IPPROTO_IP, USOCKET_IP_MULTICAST_IF, 4, SOCKOPT_UDP, SOCKOPT_IFADDR, HOST_OPT_MULTICAST_IF},
    {USOCKET_IPPROTO_IP, USOCKET_IP_MULTICAST_LOOP, 1, SOCKOPT_UDP, SOCKOPT_BYTE, HOST_OPT_MULTICAST_LOOP},
};

const struct profile_sockopt *profile_sockopt(int level, int opt)
{
    for (size_t i = 0; i < sizeof sockopts / sizeof sockopts[0]; i++)
        if (sockopts[i].level == level && sockopts[i].opt == opt)
            return &sockopts[i];
    return NULL;
}
