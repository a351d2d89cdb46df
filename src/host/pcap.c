/*
 * The pcap of the virtual LAN: frames synthesised from the socket calls, addressed as the board
 * sees them. A TCP connection is one conversation whatever the number of this process's sockets
 * on it: when both ends are ours (end 1 joined), each segment is written once, by its sender;
 * otherwise a receive stands for the peer's segment. The first end's view names the addresses:
 * its own device address (bound, or the board's address with the kernel's port) and the peer
 * under the address the program knows it by.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "observe.h"
#include "upysock/uerrno.h"

/* MSS: the board's CONFIG_TCP_MSS 1436 (FW esp32/sdkconfig.h L83, lwipopts.h L326; see
 * docs/firmware-notes.md §14), so data segments are cut where the board's lwIP would cut them. */
enum { CONVS = 256, NAMES = 64, MSS = 1436 };

struct conv {
    uint32_t ids[2];         /* end 0's and end 1's host_sock ids; ids[1] 0: the peer is not ours */
    host_addr hl, hp;        /* end 0's kernel addresses */
    host_addr dev[2];        /* end 0's device address, its peer's */
    uint32_t next[2];        /* next sequence number sent from dev[0], from dev[1] */
    bool fin[2], reset, shaken; /* reset: over, nothing more is written (an RST, a link drop) */
    bool half;               /* a non-blocking connect's SYN, its answer not seen yet */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static obs_sink sink = OBS_SINK_INIT("pcap");
static struct conv convs[CONVS];
static unsigned conv_count;
static struct name {
    host_addr host, dev; /* a datagram endpoint's kernel address, its device address */
    bool ours;           /* one of our sockets: what it sends is written when sent */
} names[NAMES];
static unsigned name_count;
static _Atomic uint32_t device_ip = 0xc0a800f9; /* 192.168.0.249 */
static host_addr (*_Atomic map_in)(host_addr); /* the virtual LAN's rules, read back */

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int pcap_open(const char *path, char *err, size_t errsize)
{
    /* Classic pcap, microseconds, LINKTYPE_RAW (101): the frames are bare IPv4. */
    uint8_t head[24] = {0};
    put_le32(head, 0xa1b2c3d4);
    head[4] = 2, head[6] = 4;
    put_le32(head + 16, 65535);
    put_le32(head + 20, 101);
    return obs_sink_open(&sink, path, false, false, head, sizeof head, err, errsize);
}

bool pcap_on(void)
{
    return obs_sink_on(&sink);
}

void pcap_set_device_ip(uint32_t ip)
{
    atomic_store(&device_ip, ip);
}

void pcap_set_map_in(host_addr (*map)(host_addr))
{
    atomic_store(&map_in, map);
}

static bool same(host_addr a, host_addr b)
{
    return a.ip == b.ip && a.port == b.port;
}

/* One frame as one record; the caller holds the lock, so records and sequence numbers agree. */
static void emit(const uint8_t *frame, size_t len)
{
    uint8_t *rec = malloc(16 + len);
    if (!rec)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    put_le32(rec, (uint32_t)ts.tv_sec);
    put_le32(rec + 4, (uint32_t)(ts.tv_nsec / 1000));
    put_le32(rec + 8, (uint32_t)len);
    put_le32(rec + 12, (uint32_t)len);
    memcpy(rec + 16, frame, len);
    obs_sink_write(&sink, rec, 16 + len);
    free(rec);
}

/* A segment from end d's device address (d: 0 or 1) to the other's. */
static void segment(struct conv *c, int d, int flags, const void *data, size_t len)
{
    uint8_t frame[FRAME_MAX];
    emit(frame, frame_tcp(frame, c->dev[d], c->dev[!d], c->next[d], c->next[!d], flags, data, len));
    c->next[d] += (uint32_t)len + ((flags & (FRAME_SYN | FRAME_FIN)) != 0);
}

static host_addr dev_local(host_sock *s, host_addr kernel_local)
{
    return (host_addr){s->dev_local.ip ? s->dev_local.ip : atomic_load(&device_ip),
                       s->dev_local.port ? s->dev_local.port : kernel_local.port};
}

static host_addr dev_peer(const host_sock *s, host_addr kernel_peer)
{
    return s->dev_peer.ip ? s->dev_peer : kernel_peer;
}

static struct conv *find(uint32_t id, int *end)
{
    for (unsigned i = 0; i < conv_count && i < CONVS; i++)
        for (int e = 0; e < 2; e++)
            if (convs[i].ids[e] == id) {
                *end = e;
                return &convs[i];
            }
    return NULL;
}

/* The conversation whose end 0 is the other side of (local, peer), or a new one for s. */
static struct conv *enter(host_sock *s, host_addr local, host_addr peer, bool *joined)
{
    for (unsigned i = 0; i < conv_count && i < CONVS; i++) {
        struct conv *c = &convs[i];
        if (c->ids[1] == 0 && same(c->hl, peer) && same(c->hp, local)) {
            *joined = true;
            c->ids[1] = s->id;
            return c;
        }
    }
    struct conv *c = &convs[conv_count++ % CONVS]; /* the oldest goes */
    *c = (struct conv){.ids = {s->id, 0}, .hl = local, .hp = peer};
    c->next[0] = s->id * 2654435761u;
    c->next[1] = ~c->next[0] ^ 0x5ee;
    *joined = false;
    return c;
}

/* The three-way handshake, once the device addresses are known; opener: 0 or 1. */
static void shake(struct conv *c, int opener)
{
    c->shaken = true;
    segment(c, opener, FRAME_SYN, NULL, 0);
    segment(c, !opener, FRAME_SYN | FRAME_ACK, NULL, 0);
    segment(c, opener, FRAME_ACK, NULL, 0);
}

/* The answer to a pending connect's SYN, once the connection is seen to work. */
static void answer(struct conv *c)
{
    c->half = false;
    segment(c, 1, FRAME_SYN | FRAME_ACK, NULL, 0);
    segment(c, 0, FRAME_ACK, NULL, 0);
}

/* Before a socket's first event: a pending connect's answer, or after an accept, the handshake
 * (end 0's device peer is known only then). */
static void shake_late(struct conv *c, int end, host_sock *s)
{
    if (c->half)
        answer(c);
    if (c->shaken || end != 0)
        return;
    c->dev[0] = dev_local(s, c->hl);
    c->dev[1] = dev_peer(s, c->hp);
    shake(c, 1);
}

void pcap_connected(host_sock *s, int outcome)
{
    if (s->type == 2) { /* no segment: a datagram socket's connect only names its peer */
        pcap_sending(s);
        return;
    }
    host_addr local;
    if (host_local_addr(s, &local) < 0)
        return;
    pthread_mutex_lock(&lock);
    bool joined;
    struct conv *c = enter(s, local, s->peer, &joined);
    if (joined && !c->shaken) { /* the accepting end came first: the connecting end's view wins */
        c->ids[1] = c->ids[0];
        c->ids[0] = s->id;
        c->hl = local, c->hp = s->peer;
        joined = false;
    }
    if (!joined) {
        c->dev[0] = dev_local(s, local);
        c->dev[1] = dev_peer(s, s->peer);
        if (outcome == PCAP_CONNECTED) {
            shake(c, 0);
        } else {
            c->shaken = true;
            segment(c, 0, FRAME_SYN, NULL, 0);
            c->half = outcome == PCAP_PENDING;
            c->reset = outcome == PCAP_REFUSED;
            if (c->reset)
                segment(c, 1, FRAME_RST | FRAME_ACK, NULL, 0);
        }
    }
    pthread_mutex_unlock(&lock);
}

void pcap_accepted(host_sock *child)
{
    /* child->local when whole: a delayed connection's fd is a private pair's near end, and the
     * connecting end knows the real connection's address (its peer) */
    host_addr local = child->local;
    if ((!local.ip || !local.port) && host_local_addr(child, &local) < 0)
        return;
    pthread_mutex_lock(&lock);
    bool joined;
    enter(child, local, child->peer, &joined);
    pthread_mutex_unlock(&lock);
}

/* The entry for a datagram endpoint's kernel address, made when missing (the oldest goes). */
static struct name *name_of(host_addr host, bool make)
{
    for (unsigned i = 0; i < name_count && i < NAMES; i++)
        if (same(names[i].host, host) || (names[i].host.ip == 0 && names[i].host.port == host.port))
            return &names[i]; /* bound to any address: its datagrams come from loopback */
    if (!make)
        return NULL;
    struct name *n = &names[name_count++ % NAMES];
    *n = (struct name){.host = host, .dev = host};
    return n;
}

void pcap_sending(host_sock *s)
{
    host_addr local;
    if (s->type != 2 || host_local_addr(s, &local) < 0)
        return;
    pthread_mutex_lock(&lock);
    struct name *n = name_of(local, true);
    n->dev = dev_local(s, local);
    n->ours = true;
    pthread_mutex_unlock(&lock);
}

/* A received datagram's source as the program knows it: the device address a socket of ours
 * sent to it under, else the one the rules map it back to (as recvfrom returns it). */
static host_addr source(const struct name *n, host_addr host)
{
    if (n)
        return n->dev;
    host_addr (*map)(host_addr) = atomic_load(&map_in);
    return map ? map(host) : host;
}

/* A datagram: written by its sender; a received one only when no socket of ours sent it
 * (pcap_sending marked ours before the kernel could deliver it). */
static void datagram(host_sock *s, bool sent, const void *data, size_t len, host_addr other)
{
    host_addr local;
    if (host_local_addr(s, &local) < 0)
        return;
    uint8_t *frame = malloc(28 + len);
    if (!frame)
        return;
    host_addr me = dev_local(s, local);
    pthread_mutex_lock(&lock);
    struct name *n = name_of(other, sent);
    if (sent && !n->ours)
        n->dev = s->dev_peer.ip ? s->dev_peer : other;
    if (sent)
        emit(frame, frame_udp(frame, me, s->dev_peer.ip ? s->dev_peer : other, data, len));
    else if (!n || !n->ours)
        emit(frame, frame_udp(frame, source(n, other), me, data, len));
    pthread_mutex_unlock(&lock);
    free(frame);
}

void pcap_data(host_sock *s, bool sent, const void *data, size_t len, const host_addr *addr)
{
    if (s->type == 2) {
        datagram(s, sent, data, len, addr ? *addr : s->peer);
        return;
    }
    pthread_mutex_lock(&lock);
    int end;
    struct conv *c = find(s->id, &end);
    if (c && !c->reset) {
        shake_late(c, end, s);
        int d = sent ? end : !end;
        const uint8_t *p = data;
        for (size_t at = 0; (sent || c->ids[1] == 0) && at < len; at += MSS)
            segment(c, d, FRAME_PSH | FRAME_ACK, p + at, len - at < MSS ? len - at : MSS);
    }
    pthread_mutex_unlock(&lock);
}

void pcap_end(host_sock *s, bool sent, bool reset)
{
    if (s->type == 2)
        return;
    pthread_mutex_lock(&lock);
    int end;
    struct conv *c = find(s->id, &end);
    int d = c ? (sent ? end : !end) : 0;
    /* learned by a receive, also when the peer is ours: an injected FIN or RST has no close of
     * the peer to write it (a real one was written by that close, so fin or reset is set) */
    if (c && !c->fin[d] && !c->reset) {
        shake_late(c, end, s);
        c->fin[d] = true;
        segment(c, d, reset ? FRAME_RST | FRAME_ACK : FRAME_FIN | FRAME_ACK, NULL, 0);
        if (reset)
            c->reset = true; /* nothing follows a reset */
        else
            segment(c, !d, FRAME_ACK, NULL, 0);
    }
    pthread_mutex_unlock(&lock);
}

void pcap_dropped(const host_sock *s)
{
    pthread_mutex_lock(&lock);
    int end;
    struct conv *c = find(s->id, &end);
    if (c) { /* lwIP's tcp_abort would send an RST, but not through a netif that is down */
        c->half = false;
        c->reset = true;
    }
    pthread_mutex_unlock(&lock);
}

/* How a TCP socket ends when the program closes it: the kernel's state says whether the peer
 * reset it unseen (a poll reported it, nobody read it), whether the close itself resets (no
 * linger: host_abort), and whether a pending connect was ever answered. */
static void closing(host_sock *s, bool *by_peer, bool *reset, bool *answered)
{
    struct tcp_info ti;
    struct linger lg;
    socklen_t len = sizeof ti, llen = sizeof lg;
    bool known = getsockopt(s->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0;
    *by_peer = known && ti.tcpi_state == TCP_CLOSE;
    /* closed while pending: refused (a connection reset before any call saw it looks the same) */
    *answered = known && ti.tcpi_state != TCP_SYN_SENT && ti.tcpi_state != TCP_CLOSE;
    *reset = *by_peer || (getsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, &llen) == 0 && lg.l_onoff && !lg.l_linger);
}

/* A pending connect closed before any event: refused (the peer's RST), still waiting (nothing
 * more: the kernel drops a SYN_SENT socket silently), or it had worked after all. True when the
 * conversation ends here. */
static bool close_pending(host_sock *s, bool by_peer, bool answered)
{
    pthread_mutex_lock(&lock);
    int end;
    struct conv *c = find(s->id, &end);
    bool ended = c && c->half && !answered;
    if (ended) {
        c->half = false;
        c->reset = true;
        if (by_peer)
            segment(c, 1, FRAME_RST | FRAME_ACK, NULL, 0);
    }
    pthread_mutex_unlock(&lock);
    return ended;
}

/* A datagram socket of ours is gone: its port may come back as someone else's, whose datagrams
 * are written when received. */
static void forget(host_sock *s)
{
    host_addr local;
    if (host_local_addr(s, &local) < 0)
        return;
    pthread_mutex_lock(&lock);
    struct name *n = name_of(local, false);
    if (n)
        n->ours = false;
    pthread_mutex_unlock(&lock);
}

void pcap_closed(host_sock *s)
{
    if (s->type == 2) {
        forget(s);
        return;
    }
    bool by_peer, reset, answered;
    closing(s, &by_peer, &reset, &answered);
    if (close_pending(s, by_peer, answered))
        return;
    if (by_peer)
        pcap_end(s, false, true);
    pcap_end(s, true, reset);
}
