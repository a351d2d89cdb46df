/*
 * The trace's records: one JSON object per line. A record starts in a buffer on the caller's
 * stack and moves to the heap only when a field needs more (payload bytes, a long revents list),
 * up to TRACE_REC_MAX; what would not fit even then is cut at a field boundary and the record
 * marked "cut": true, so every line stays valid JSON.
 */
#define _GNU_SOURCE /* strerrorname_np */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "observe.h"

/* 4096 payload bytes escaped at 6 characters each, and the rest of the record. */
enum { TRACE_REC_MAX = 4096 * 6 + 2048, TAIL = 16 /* ,"cut":true}\n */ };

/* Room for need more characters (and the tail), growing the record when it must. */
static bool room(trace_rec *r, size_t need)
{
    size_t want = r->len + need + TAIL;
    if (want <= r->size)
        return true;
    if (want > TRACE_REC_MAX)
        return false;
    char *grown = r->buf == r->head ? malloc(TRACE_REC_MAX) : NULL;
    if (!grown)
        return false; /* out of memory (the heap buffer, once taken, is already the largest) */
    memcpy(grown, r->buf, r->len);
    r->buf = grown;
    r->size = TRACE_REC_MAX;
    return true;
}

static void add(trace_rec *r, const char *text, size_t len)
{
    if (!room(r, len)) {
        r->cut = true;
        return;
    }
    memcpy(r->buf + r->len, text, len);
    r->len += len;
}

static void addf(trace_rec *r, const char *fmt, const char *key, const char *value)
{
    char field[160];
    int n = snprintf(field, sizeof field, fmt, key, value);
    add(r, field, n < (int)sizeof field ? (size_t)n : sizeof field - 1);
}

void trace_begin(trace_rec *r, const char *call, const host_sock *s)
{
    r->buf = r->head;
    r->size = sizeof r->head;
    int n = snprintf(r->buf, r->size, "{\"t\":%llu,\"thread\":%lu,\"call\":\"%s\"",
                     (unsigned long long)host_monotonic_us(), host_kernel_tid(), call);
    r->len = (size_t)n;
    r->cut = false;
    if (s) {
        n = snprintf(r->buf + r->len, r->size - r->len, ",\"sock\":%u,\"fileno\":%d,\"kfd\":%d", s->id,
                     s->fileno, s->fd);
        r->len += (size_t)n;
    }
}

void trace_int(trace_rec *r, const char *key, long long value)
{
    char num[24];
    snprintf(num, sizeof num, "%lld", value);
    addf(r, ",\"%s\":%s", key, num);
}

/* The length of the valid UTF-8 sequence at p (at most len bytes), 0 when there is none. */
static size_t utf8_length(const unsigned char *p, size_t len)
{
    unsigned char c = p[0];
    size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (n == 0 || n > len)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    /* no overlong forms, surrogates or code points past U+10FFFF */
    if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0) || (c == 0xf0 && p[1] < 0x90) ||
        (c == 0xf4 && p[1] >= 0x90))
        return 0;
    return n;
}

/* JSON's escapes into out (room for 6 characters a byte); text passes valid UTF-8 through, and
 * every other byte outside printable ASCII is \u00XX (so payload bytes stay bytes: a reader maps
 * \u00XX back to byte XX). The characters written. */
static size_t escape(char *out, const unsigned char *p, size_t len, bool text)
{
    size_t at = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        size_t u = text && c >= 0x80 ? utf8_length(p + i, len - i) : 0;
        if (u) {
            memcpy(out + at, p + i, u);
            at += u;
            i += u - 1;
        } else if (c == '"' || c == '\\') {
            out[at++] = '\\';
            out[at++] = (char)c;
        } else if (c >= 0x20 && c < 0x7f) {
            out[at++] = (char)c;
        } else {
            at += (size_t)snprintf(out + at, 7, "\\u%04x", c);
        }
    }
    return at;
}

/* ,"key":"escaped" — or, when even the largest record cannot hold it, as much as fits and cut. */
static void add_escaped(trace_rec *r, const char *key, const unsigned char *p, size_t len, bool text)
{
    char head[48];
    int h = snprintf(head, sizeof head, ",\"%s\":\"", key);
    if (!room(r, (size_t)h + 32)) {
        r->cut = true;
        return;
    }
    add(r, head, (size_t)h);
    size_t fits = len;
    while (fits > 0 && !room(r, fits * 6 + 1)) {
        fits = (r->size - r->len - TAIL - 1) / 6; /* the room there is */
        r->cut = true;
    }
    r->len += escape(r->buf + r->len, p, fits, text);
    add(r, "\"", 1);
}

void trace_str(trace_rec *r, const char *key, const char *value)
{
    add_escaped(r, key, (const unsigned char *)value, strlen(value), true);
}

static void dotted(char out[16], uint32_t ip)
{
    snprintf(out, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

void trace_addr(trace_rec *r, const char *key, host_addr a)
{
    char quad[16], text[24];
    dotted(quad, a.ip);
    snprintf(text, sizeof text, "%s:%u", quad, a.port);
    addf(r, ",\"%s\":\"%s\"", key, text);
}

void trace_ip(trace_rec *r, const char *key, uint32_t ip)
{
    char quad[16];
    dotted(quad, ip);
    addf(r, ",\"%s\":\"%s\"", key, quad);
}

void trace_bytes(trace_rec *r, const char *key, const void *data, size_t len)
{
    add_escaped(r, key, data, len, false);
}

void trace_pairs(trace_rec *r, const char *key, const int pairs[][2], int n)
{
    char head[48], pair[32];
    if (!room(r, sizeof head + sizeof pair * (size_t)n)) {
        r->cut = true;
        return;
    }
    add(r, head, (size_t)snprintf(head, sizeof head, ",\"%s\":[", key));
    for (int i = 0; i < n; i++)
        add(r, pair, (size_t)snprintf(pair, sizeof pair, "%s[%d,%d]", i ? "," : "", pairs[i][0], pairs[i][1]));
    add(r, "]", 1);
}

void trace_result(trace_rec *r, long long result, int kernel_errno)
{
    if (result >= 0) {
        trace_int(r, "result", result);
        return;
    }
    trace_int(r, "errno", -result);
    if (kernel_errno) {
        trace_int(r, "kernel_errno", kernel_errno);
        trace_str(r, "kernel_error", strerrorname_np(kernel_errno) ? strerrorname_np(kernel_errno) : "?");
    }
}

void trace_end(trace_rec *r, obs_sink *to)
{
    const char *tail = r->cut ? ",\"cut\":true}\n" : "}\n";
    memcpy(r->buf + r->len, tail, strlen(tail));
    obs_sink_write(to, r->buf, r->len + strlen(tail));
    if (r->buf != r->head)
        free(r->buf);
}
