/*
 * IPv4 packets for the pcap, built from what a socket call moved: no options, DF set, TTL 64
 * (lwIP's default), checksums computed so Wireshark's validation passes.
 */
#include <stdatomic.h>
#include <string.h>

#include "observe.h"

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v);
}

/* The Internet checksum's running sum (RFC 1071) over len bytes. */
static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t len)
{
    for (; len > 1; p += 2, len -= 2)
        sum += (uint32_t)p[0] << 8 | p[1];
    if (len)
        sum += (uint32_t)p[0] << 8;
    return sum;
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* The IPv4 header and the transport checksum (over its pseudo-header) of a packet whose
 * transport header and data are already at out + 20; csum_at: where that checksum goes. */
static size_t finish(uint8_t *out, int proto, host_addr src, host_addr dst, size_t tlen, size_t csum_at)
{
    static _Atomic uint16_t ip_id;
    size_t total = 20 + tlen;
    out[0] = 0x45;
    out[1] = 0;
    put16(out + 2, (uint32_t)total);
    put16(out + 4, atomic_fetch_add_explicit(&ip_id, 1, memory_order_relaxed));
    put16(out + 6, 0x4000);
    out[8] = 64;
    out[9] = (uint8_t)proto;
    put16(out + 10, 0);
    put32(out + 12, src.ip);
    put32(out + 16, dst.ip);
    put16(out + 10, fold(sum16(0, out, 20)));
    uint8_t pseudo[12];
    memcpy(pseudo, out + 12, 8);
    pseudo[8] = 0;
    pseudo[9] = (uint8_t)proto;
    put16(pseudo + 10, (uint32_t)tlen);
    uint16_t csum = fold(sum16(sum16(0, pseudo, sizeof pseudo), out + 20, tlen));
    put16(out + 20 + csum_at, proto == 17 && csum == 0 ? 0xffff : csum);
    return total;
}

size_t frame_tcp(uint8_t *out, host_addr src, host_addr dst, uint32_t seq, uint32_t ack, int flags,
                 const void *data, size_t len)
{
    uint8_t *t = out + 20;
    memset(t, 0, 20);
    put16(t, src.port);
    put16(t + 2, dst.port);
    put32(t + 4, seq);
    put32(t + 8, flags & FRAME_ACK ? ack : 0);
    t[12] = 5 << 4;
    t[13] = (uint8_t)flags;
    put16(t + 14, 5744); /* a fixed window: the real one is not seen from the socket API */
    if (len)
        memcpy(t + 20, data, len);
    return finish(out, 6, src, dst, 20 + len, 16);
}

size_t frame_udp(uint8_t *out, host_addr src, host_addr dst, const void *data, size_t len)
{
    uint8_t *u = out + 20;
    put16(u, src.port);
    put16(u + 2, dst.port);
    put16(u + 4, (uint32_t)(8 + len));
    put16(u + 6, 0);
    if (len)
        memcpy(u + 8, data, len);
    return finish(out, 17, src, dst, 8 + len, 6);
}
