/*
 * The trace's records: one JSON object per line, built in a fixed buffer (a record that would
 * not fit is cut at a field boundary and marked "cut": true, so every line stays valid JSON).
 */
#define _GNU_SOURCE /* strerrorname_np */
#include <stdio.h>
#include <string.h>

#include "observe.h"

static void add(trace_rec *r, const char *text, size_t len)
{
    if (r->len + len + 16 >= sizeof r->buf) { /* room kept for ,"cut":true} */
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
    int n = snprintf(r->buf, sizeof r->buf, "{\"t\":%llu,\"thread\":%lu,\"call\":\"%s\"",
                     (unsigned long long)host_monotonic_us(), host_kernel_tid(), call);
    r->len = (size_t)n;
    r->cut = false;
    if (s) {
        n = snprintf(r->buf + r->len, sizeof r->buf - r->len, ",\"sock\":%u,\"fileno\":%d,\"kfd\":%d", s->id,
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

/* JSON's escapes, and \u00XX for every byte outside printable ASCII (so payload bytes stay
 * bytes: a reader maps \u00XX back to byte XX). */
static size_t escape(char *out, size_t size, const unsigned char *p, size_t len)
{
    size_t at = 0;
    for (size_t i = 0; i < len && at + 7 < size; i++) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\')
            at += (size_t)snprintf(out + at, size - at, "\\%c", c);
        else if (c >= 0x20 && c < 0x7f)
            out[at++] = (char)c;
        else
            at += (size_t)snprintf(out + at, size - at, "\\u%04x", c);
    }
    out[at] = '\0';
    return at;
}

void trace_str(trace_rec *r, const char *key, const char *value)
{
    char text[128];
    escape(text, sizeof text, (const unsigned char *)value, strlen(value));
    addf(r, ",\"%s\":\"%s\"", key, text);
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
    char head[48];
    int h = snprintf(head, sizeof head, ",\"%s\":\"", key);
    if (r->len + (size_t)h + 40 >= sizeof r->buf) {
        r->cut = true;
        return;
    }
    add(r, head, (size_t)h);
    /* escaped in place; what does not fit is cut (the length says what moved) */
    r->len += escape(r->buf + r->len, sizeof r->buf - r->len - 24, data, len);
    add(r, "\"", 1);
}

void trace_pairs(trace_rec *r, const char *key, const int pairs[][2], int n)
{
    char head[48], pair[32];
    if (r->len + sizeof head + sizeof pair * (size_t)n + 16 >= sizeof r->buf) {
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
}
