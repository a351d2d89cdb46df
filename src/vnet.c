/*
 * The virtual LAN: remap rules, the loopback sandbox, getaddrinfo answers and the /flash mapping.
 * Rules are replaced as a whole under a write lock; lookups (connect, bind, sendto, getaddrinfo)
 * take the read lock.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "host/observe.h"
#include "internal.h"
#include "vnet.h"

#define MAX_RULES 64
#define LOOPBACK 0x7f000001u
#define ANY_PORT (-1)

enum rule_kind {
    RULE_ENDPOINT, /* 192.168.0.249:6543=127.0.0.1:16543 */
    RULE_HOST,     /* 192.168.0.249=127.0.0.2 (every port) */
    RULE_PORT,     /* *:6543=127.0.0.1:16543 (every address) */
    RULE_ALL,      /* *=127.0.0.2 */
    RULE_NAME,     /* broker.local[:1883]=127.0.0.1[:11883], for getaddrinfo */
};

struct rule {
    enum rule_kind kind;
    char name[256]; /* RULE_NAME */
    uint32_t ip;    /* RULE_ENDPOINT, RULE_HOST */
    int port;       /* ANY_PORT unless the left side names one */
    uint32_t to_ip;
    int to_port;    /* ANY_PORT: keep the port */
};

static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static struct rule rules[MAX_RULES];
static int rule_count;
static bool host_mode;
static char flash_dir[4096] = "./flash";
static atomic_int log_fd = -1; /* UPYSOCK_LOG */

static bool is_loopback(uint32_t ip)
{
    return (ip >> 24) == 127;
}

/* By hand, not snprintf: every accept() formats its peer, and snprintf's ~1700 instructions were
 * the largest user-space cost of an accepted connection (docs/performance.md). */
void vnet_format_ip(uint32_t ip, char out[16])
{
    char *p = out;
    for (int shift = 24; shift >= 0; shift -= 8) {
        unsigned octet = (ip >> shift) & 255;
        if (octet >= 100)
            *p++ = (char)('0' + octet / 100);
        if (octet >= 10)
            *p++ = (char)('0' + octet / 10 % 10);
        *p++ = (char)('0' + octet % 10);
        *p++ = shift ? '.' : '\0';
    }
}

/* A dotted quad of 1-3 digit parts; like netutils, each part is truncated to 8 bits. */
static bool parse_quad(const char *s, uint32_t *ip)
{
    uint32_t value = 0;
    for (int part = 0; part < 4; part++) {
        int digits = 0, octet = 0;
        while (isdigit((unsigned char)*s) && digits < 4) {
            octet = octet * 10 + (*s++ - '0');
            digits++;
        }
        if (digits == 0 || digits > 3 || (part < 3 && *s++ != '.'))
            return false;
        value = value << 8 | (uint32_t)(octet & 0xff);
    }
    *ip = value;
    return *s == '\0';
}

/* A decision for the trace (docs/observe.md): device endpoint → host endpoint. */
static void trace_decision(const char *verb, uint32_t ip, int port, host_addr host)
{
    if (__builtin_expect(!atomic_load_explicit(&observe_tracing, memory_order_relaxed), 1))
        return;
    char quad[16], dev[24];
    vnet_format_ip(ip, quad);
    snprintf(dev, sizeof dev, "%s:%d", quad, port);
    observe_vnet(verb, dev, &host);
}

int vnet_parse(const usocket_addr *addr, uint32_t *ip, int *port)
{
    if (!addr)
        return UPY__E_NULL_ADDR;
    if (memchr(addr->ip, '\0', sizeof addr->ip) == NULL)
        return UPY__E_INVALID_ARGS;
    if (addr->ip[0] == '\0')
        *ip = 0;
    else if (!parse_quad(addr->ip, ip))
        return UPY__E_INVALID_ARGS;
    if (addr->port < 0 || addr->port > 65535)
        return UPY__E_PORT_RANGE;
    *port = addr->port;
    return 0;
}

static bool parse_port(const char *s, int min, int *port)
{
    long v;
    if (!config_parse_digits(s, &v) || v < min || v > 65535)
        return false;
    *port = (int)v;
    return true;
}

static bool is_hostname(const char *s)
{
    bool letter = false;
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.')
            return false;
        letter |= isalpha((unsigned char)*s) != 0;
    }
    return letter;
}

/* One "lhs=rhs"; the caller's buffer is cut in place. */
static bool parse_rule(char *text, struct rule *r)
{
    char *eq = strchr(text, '=');
    if (!eq)
        return false;
    *eq = '\0';
    char *lhs = text, *rhs = eq + 1;
    char *lport = strrchr(lhs, ':'), *rport = strrchr(rhs, ':');
    if (lport)
        *lport++ = '\0';
    if (rport)
        *rport++ = '\0';
    memset(r, 0, sizeof *r);
    r->port = r->to_port = ANY_PORT;
    if ((lport && !parse_port(lport, 1, &r->port)) || (rport && !parse_port(rport, 0, &r->to_port)) ||
        !parse_quad(rhs, &r->to_ip))
        return false;
    if (strcmp(lhs, "*") == 0) {
        r->kind = lport ? RULE_PORT : RULE_ALL;
    } else if (parse_quad(lhs, &r->ip)) {
        r->kind = lport ? RULE_ENDPOINT : RULE_HOST;
    } else if (is_hostname(lhs) && strlen(lhs) < sizeof r->name) {
        r->kind = RULE_NAME;
        snprintf(r->name, sizeof r->name, "%s", lhs);
    } else {
        return false;
    }
    return true;
}

static int check_sandbox(const struct rule *set, int count, bool host, char *err, size_t errsize)
{
    for (int i = 0; i < count && !host; i++) {
        if (!is_loopback(set[i].to_ip)) {
            char ip[16];
            vnet_format_ip(set[i].to_ip, ip);
            snprintf(err, errsize, "rule %d targets %s, which is not loopback (set UPYSOCK_NET=host "
                     "to reach real networks)", i + 1, ip);
            return -1;
        }
    }
    return 0;
}

static host_addr mapped_back(host_addr host)
{
    return vnet_map_in(host, NULL);
}

int vnet_set_rules(const char *spec, char *err, size_t errsize)
{
    struct rule parsed[MAX_RULES];
    int count = 0;
    char item[512];
    for (const char *p = spec; *p;) {
        size_t len = strcspn(p, ",");
        const char *start = p;
        p += len + (p[len] == ',');
        while (len && isspace((unsigned char)*start))
            start++, len--;
        while (len && isspace((unsigned char)start[len - 1]))
            len--;
        if (len == 0)
            continue;
        if (count == MAX_RULES) {
            snprintf(err, errsize, "more than %d rules", MAX_RULES);
            return -1;
        }
        snprintf(item, sizeof item, "%.*s", (int)len, start);
        if (len >= sizeof item || !parse_rule(item, &parsed[count])) {
            snprintf(err, errsize, "bad rule '%.*s' (want ADDR[:PORT]=IP[:PORT], ADDR a dotted quad, "
                     "* or a hostname)", (int)(len < 60 ? len : 60), start);
            return -1;
        }
        count++;
    }
    pthread_rwlock_wrlock(&lock);
    int rc = check_sandbox(parsed, count, host_mode, err, errsize);
    if (rc == 0) {
        memcpy(rules, parsed, sizeof parsed[0] * (size_t)count);
        rule_count = count;
    }
    pthread_rwlock_unlock(&lock);
    if (rc == 0)
        observe_set_map_in(mapped_back);
    return rc;
}

int vnet_set_mode(const char *mode, char *err, size_t errsize)
{
    bool host = strcmp(mode, "host") == 0;
    if (!host && strcmp(mode, "sandbox") != 0) {
        snprintf(err, errsize, "unknown mode '%s' (want sandbox or host)", mode);
        return -1;
    }
    pthread_rwlock_wrlock(&lock);
    int rc = check_sandbox(rules, rule_count, host, err, errsize);
    if (rc == 0)
        host_mode = host;
    pthread_rwlock_unlock(&lock);
    return rc;
}

int vnet_set_flash(const char *dir, char *err, size_t errsize)
{
    if (!*dir || strlen(dir) >= sizeof flash_dir) {
        snprintf(err, errsize, *dir ? "flash directory path is longer than %zu bytes"
                                    : "flash directory must be a non-empty path", sizeof flash_dir - 1);
        return -1;
    }
    pthread_rwlock_wrlock(&lock);
    snprintf(flash_dir, sizeof flash_dir, "%s", dir);
    pthread_rwlock_unlock(&lock);
    return 0;
}

/* The most specific rule for an endpoint, or NULL. Caller holds the lock. */
static const struct rule *lookup(uint32_t ip, int port)
{
    static const int rank[] = {[RULE_ENDPOINT] = 4, [RULE_HOST] = 3, [RULE_PORT] = 2, [RULE_ALL] = 1};
    const struct rule *best = NULL;
    for (int i = 0; i < rule_count; i++) {
        const struct rule *r = &rules[i];
        bool match = (r->kind == RULE_ENDPOINT && r->ip == ip && r->port == port) ||
                     (r->kind == RULE_HOST && r->ip == ip) || (r->kind == RULE_PORT && r->port == port) ||
                     r->kind == RULE_ALL;
        if (r->kind != RULE_NAME && match && (!best || rank[r->kind] > rank[best->kind]))
            best = r;
    }
    return best;
}

int vnet_map_out(const usocket_addr *addr, host_addr *out, host_addr *device)
{
    uint32_t ip = 0;
    int port = 0; /* set by vnet_parse; gcc -O2 cannot see it (-Werror=maybe-uninitialized) */
    int rc = vnet_parse(addr, &ip, &port);
    if (rc < 0)
        return rc;
    if (device)
        *device = (host_addr){ip, (uint16_t)port};
    pthread_rwlock_rdlock(&lock);
    const struct rule *r = lookup(ip, port);
    if (r) {
        out->ip = r->to_ip;
        out->port = (uint16_t)(r->to_port == ANY_PORT ? port : r->to_port);
    } else {
        /* Sandbox: everything lands on loopback; a wildcard bind stays on loopback too. */
        bool keep = host_mode || is_loopback(ip);
        out->ip = keep ? ip : LOOPBACK;
        out->port = (uint16_t)port;
    }
    bool escaped = !host_mode && !is_loopback(out->ip);
    pthread_rwlock_unlock(&lock);
    if (r || escaped)
        trace_decision(escaped ? "sandbox_refused" : "remap", ip, port, *out);
    /* Defence in depth: check_sandbox already keeps rules on loopback. */
    if (escaped)
        return UPY__E_SANDBOX;
    return 0;
}

uint32_t vnet_map_interface(uint32_t ip)
{
    pthread_rwlock_rdlock(&lock);
    bool keep = host_mode;
    pthread_rwlock_unlock(&lock);
    return keep ? ip : LOOPBACK;
}

host_addr vnet_map_in(host_addr host, usocket_addr *out)
{
    uint32_t ip = host.ip;
    int port = host.port;
    pthread_rwlock_rdlock(&lock);
    for (int i = 0; i < rule_count; i++) {
        const struct rule *r = &rules[i];
        int to_port = r->to_port == ANY_PORT ? r->port : r->to_port; /* "ip:port=ip" keeps it */
        if (r->kind == RULE_ENDPOINT && r->to_ip == host.ip && to_port == host.port) {
            ip = r->ip, port = r->port;
            break;
        }
        if (r->kind == RULE_HOST && r->to_ip == host.ip && r->to_port == ANY_PORT)
            ip = r->ip;
    }
    pthread_rwlock_unlock(&lock);
    if (out) {
        vnet_format_ip(ip, out->ip);
        out->port = port;
    }
    return (host_addr){ip, (uint16_t)port};
}

/* A numeric host as lwIP's dns_gethostbyname takes it: ipaddr_aton, i.e. the BSD inet_aton forms
 * ("127.1", "0x7f.1", octal parts), which libc's inet_aton parses the same way. */
static bool parse_numeric(const char *host, uint32_t *ip)
{
    struct in_addr a;
    if (!inet_aton(host, &a))
        return false;
    *ip = ntohl(a.s_addr);
    return true;
}

int vnet_resolve(const char *host, int port, usocket_addr *out)
{
    if (!host)
        return UPY__E_NULL_HOST;
    /* lwip_getaddrinfo checks the service before the name. */
    if (port <= 0 || port > 65535)
        return -UERRNO_EAI_SERVICE;
    uint32_t ip = 0;
    int to_port = port;
    bool found = false, host_dns;
    if (strlen(host) <= 255) {
        bool numeric = found = parse_numeric(host, &ip);
        pthread_rwlock_rdlock(&lock);
        for (int i = 0; i < rule_count && !found; i++) {
            const struct rule *r = &rules[i];
            if (r->kind == RULE_NAME && strcasecmp(r->name, host) == 0 &&
                (r->port == ANY_PORT || r->port == port)) {
                ip = r->to_ip;
                to_port = r->to_port == ANY_PORT ? port : r->to_port;
                found = true;
            }
        }
        host_dns = host_mode;
        pthread_rwlock_unlock(&lock);
        if (!found && strcmp(host, "localhost") == 0) /* dns.c compares it case-sensitively */
            ip = LOOPBACK, found = true;
        if (!found && host_dns && *host)
            found = host_resolve(host, &ip) == 0;
        else if (!numeric && host_resolve_elsewhere(host, found ? &ip : NULL) < 0)
            found = false;
    }
    if (__builtin_expect(atomic_load_explicit(&observe_tracing, memory_order_relaxed), 0))
        observe_vnet(found ? "resolve" : "resolve_failed", host, found ? &(host_addr){ip, (uint16_t)to_port} : NULL);
    if (!found)
        return -UERRNO_EAI_FAIL;
    vnet_format_ip(ip, out->ip);
    out->port = to_port;
    return 0;
}

size_t vnet_map_path(const char *path, char *out, size_t size)
{
    if (!path)
        path = "";
    static const char prefix[] = "/flash";
    size_t plen = sizeof prefix - 1;
    int n;
    if (strncmp(path, prefix, plen) == 0 && (path[plen] == '\0' || path[plen] == '/')) {
        pthread_rwlock_rdlock(&lock);
        n = snprintf(out, size, "%s%s", flash_dir, path + plen);
        pthread_rwlock_unlock(&lock);
    } else {
        n = snprintf(out, size, "%s", path);
    }
    return n < 0 ? 0 : (size_t)n;
}

int vnet_set_log_fd(int fd)
{
    if (fd < -1 || (fd >= 0 && !host_fd_is_open(fd)))
        return -1;
    atomic_store(&log_fd, fd);
    return 0;
}

int vnet_set_log(const char *spec, char *err, size_t errsize)
{
    int fd = -1;
    if (strcmp(spec, "stderr") == 0) {
        fd = 2;
    } else if (strncmp(spec, "fd:", 3) == 0) {
        long n;
        fd = config_parse_digits(spec + 3, &n) && n < 65536 && host_fd_is_open((int)n) ? (int)n : -1;
    } else if (*spec) {
        fd = host_open_append(spec);
    }
    if (fd < 0) {
        snprintf(err, errsize, "cannot log to '%s' (want stderr, fd:N with an open fd, or a writable path)", spec);
        return -1;
    }
    atomic_store(&log_fd, fd);
    return 0;
}

static _Atomic uint32_t device_ip = 0xc0a800f9; /* 192.168.0.249, the Python front's default */

int vnet_set_device_ip(const char *addr, char *err, size_t errsize)
{
    struct in_addr a; /* strict, unlike a device address: each part 0..255 */
    uint32_t ip = inet_pton(AF_INET, addr, &a) == 1 ? ntohl(a.s_addr) : 0;
    if (ip == 0) {
        snprintf(err, errsize, "a dotted quad expected, not '%s'", addr);
        return -1;
    }
    atomic_store(&device_ip, ip);
    observe_set_device_ip(ip);
    return 0;
}

uint32_t vnet_device_ip(void)
{
    return atomic_load(&device_ip);
}

void vnet_log(const char *verb, const usocket_addr *device, host_addr host)
{
    if (__builtin_expect(atomic_load_explicit(&observe_tracing, memory_order_relaxed), 0)) {
        char dev[24];
        snprintf(dev, sizeof dev, "%s:%d", device->ip[0] ? device->ip : "0.0.0.0", device->port);
        observe_vnet(verb, dev, &host);
    }
    int fd = atomic_load_explicit(&log_fd, memory_order_relaxed);
    if (fd < 0)
        return;
    char ip[16], line[128];
    vnet_format_ip(host.ip, ip);
    snprintf(line, sizeof line, "upysock: %s %s:%d -> %s:%u\n", verb, device->ip[0] ? device->ip : "0.0.0.0",
             device->port, ip, host.port);
    host_write_line(fd, line);
}
