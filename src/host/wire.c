/*
 * The wire: a delay line between a device socket and its real connection (wire.h says what it
 * is for). Each wired connection is a link of two kernel sockets the wire owns, `real` (to the
 * peer) and `far` (the far end of the device socket's loopback pair), and two ways: OUT reads
 * far and writes real, IN reads real and writes far. A way is a FIFO of chunks, each with the
 * time it is due at the other side; TCP never reorders, so due times only grow. A way stops
 * reading its source while it holds a window's worth, so a capped link fills up behind it and
 * the device's send blocks, times out or would block, as on a slow Wi-Fi link. An end of stream
 * or a reset is queued like a byte and passed on (FIN, RST) when it is due.
 *
 * One thread (started with the first link) moves everything: it sleeps in epoll until a socket
 * it needs is ready or the next chunk is due. The links are only touched under `lock`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wire.h"

#define PAIR_MS 10000 /* the pair's own loopback handshake: at once, unless the machine is stuck */

enum mark { DATA, FIN, RST };

struct chunk {
    struct chunk *next;
    uint64_t due;
    enum mark mark;
    size_t len, off;
    char *data;
};

struct way {
    struct host_wire_way p;
    int src, dst;
    struct chunk *head, *tail;
    size_t held;                 /* data bytes queued */
    uint64_t sent_until;         /* when the capped link has sent what is queued */
    uint64_t last_due, drawn;
    bool src_done;               /* nothing more is read: the end is queued, or dst is gone */
    bool dst_blocked;            /* dst's buffer was full at the last write */
    bool finished;               /* nothing more goes to dst */
    struct chunk end;            /* the FIN or RST that ends the way (never allocated) */
};

struct link {
    struct link *next;
    int real, far;
    bool connecting;             /* the real connect is under way: real is not read or written */
    uint32_t watching[2];        /* epoll events registered for real, far (0: not in the set) */
    size_t window, chunk;
    uint64_t seed;
    uint64_t (*draw)(uint64_t, int, uint64_t);
    struct way way[2];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t started = PTHREAD_ONCE_INIT;
static struct link *links;
static int ep = -1;

static int fail(void)
{
    return -host_errno_to_device(errno);
}

static void set_int(int fd, int level, int name, int value)
{
    setsockopt(fd, level, name, &value, sizeof value);
}

/* Small kernel buffers at the wire's sockets, so the window is what holds the bytes in flight. */
static void tighten(int fd, size_t window)
{
    set_int(fd, SOL_SOCKET, SO_RCVBUF, (int)window);
    set_int(fd, SOL_SOCKET, SO_SNDBUF, (int)window);
    set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1); /* a due chunk leaves at once */
}

/* The device's send buffer is the board's: a blocking or timed send into a full link waits once
 * about a window is queued, as lwIP's does at TCP_SND_BUF (a non-blocking one is capped by the
 * library's own count, usocket.c). */
static void near_buffer(int fd, size_t window)
{
    set_int(fd, SOL_SOCKET, SO_SNDBUF, (int)window);
}

/* --- a way: queue, read, deliver ------------------------------------------------------------- */

/* Queue what the source said: bytes, its end (FIN), its reset (RST). */
static void enqueue(struct link *l, struct way *w, enum mark m, const char *data, size_t len, uint64_t now)
{
    struct chunk *c = m == DATA ? malloc(sizeof *c + len) : &w->end;
    if (!c) {
        c = &w->end; /* no memory for the bytes: the link cannot carry them on */
        m = RST;
        len = 0;
    }
    *c = (struct chunk){.mark = m, .len = len, .data = (char *)(c + 1)};
    if (len)
        memcpy(c->data, data, len);
    uint64_t from = w->sent_until > now ? w->sent_until : now;
    w->sent_until = from + (w->p.rate ? (uint64_t)len * 1000000u / (uint64_t)w->p.rate : 0);
    uint64_t jitter = w->p.jitter_us ? l->draw(l->seed, (int)(w - l->way), w->drawn++) % (w->p.jitter_us + 1) : 0;
    uint64_t due = w->sent_until + w->p.latency_us + jitter;
    c->due = w->last_due = due > w->last_due ? due : w->last_due;
    if (w->tail)
        w->tail->next = c;
    else
        w->head = c;
    w->tail = c;
    w->held += len;
    w->src_done |= m != DATA;
}

static void take_head(struct way *w)
{
    struct chunk *c = w->head;
    w->head = c->next;
    if (!w->head)
        w->tail = NULL;
    w->held -= c->len;
    if (c != &w->end)
        free(c);
}

static void drop(struct way *w)
{
    while (w->head)
        take_head(w);
}

/* Read what the source has, while the window has room. */
static void fill(struct link *l, struct way *w, uint64_t now)
{
    char buf[2048];
    size_t max = l->chunk < sizeof buf ? l->chunk : sizeof buf;
    while (!w->src_done && w->held < l->window) {
        size_t room = l->window - w->held;
        ssize_t n = recv(w->src, buf, room < max ? room : max, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        enqueue(l, w, n > 0 ? DATA : n == 0 ? FIN : RST, buf, n > 0 ? (size_t)n : 0, now);
    }
}

/* connect(AF_UNSPEC): RST to the other side, and the socket CLOSED (hostsock.c, host_disconnect). */
static void reset(int fd)
{
    struct sockaddr sa = {.sa_family = AF_UNSPEC};
    connect(fd, &sa, sizeof sa);
}

static void finish(struct way *w)
{
    drop(w);
    w->finished = w->src_done = true;
}

/* Pass on every chunk that is due, as far as dst takes it. */
static void deliver(struct link *l, struct way *w, uint64_t now)
{
    w->dst_blocked = false;
    while (w->head && w->head->due <= now && !w->finished) {
        struct chunk *c = w->head;
        if (c->mark == RST) {
            reset(w->dst);
            finish(&l->way[HOST_WIRE_OUT]); /* a reset ends both ways */
            finish(&l->way[HOST_WIRE_IN]);
            return;
        }
        if (c->mark == FIN) {
            shutdown(w->dst, SHUT_WR);
            finish(w);
            return;
        }
        ssize_t n = send(w->dst, c->data + c->off, c->len - c->off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            w->dst_blocked = true;
            return;
        }
        if (n < 0) { /* the other side is gone: what is queued has nowhere to go */
            finish(w);
            return;
        }
        c->off += (size_t)n;
        if (c->off < c->len) {
            w->dst_blocked = true;
            return;
        }
        take_head(w);
    }
}

/* --- a link ------------------------------------------------------------------------------------ */

/* The real connect's outcome, once there is one: a failure reaches the device as the peer's RST. */
static void connect_outcome(struct link *l, uint64_t now)
{
    struct pollfd p = {l->real, POLLOUT, 0};
    if (poll(&p, 1, 0) == 0)
        return;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(l->real, SOL_SOCKET, SO_ERROR, &err, &len);
    l->connecting = false;
    if (err) {
        finish(&l->way[HOST_WIRE_OUT]);
        enqueue(l, &l->way[HOST_WIRE_IN], RST, NULL, 0, now);
    }
}

static void watch(struct link *l, int i, int fd, uint32_t events)
{
    if (events == l->watching[i])
        return;
    struct epoll_event ev = {.events = events};
    int op = !events ? EPOLL_CTL_DEL : l->watching[i] ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    epoll_ctl(ep, op, fd, &ev);
    l->watching[i] = events;
}

static bool reads(const struct link *l, const struct way *w)
{
    return !w->src_done && w->held < l->window;
}

/* Only what the link waits for is in the set: a socket that hung up reports HUP for ever, and
 * would wake the thread in a loop were it left in while nothing more is wanted of it. */
static void rewatch(struct link *l)
{
    const struct way *out = &l->way[HOST_WIRE_OUT], *in = &l->way[HOST_WIRE_IN];
    watch(l, 0, l->real,
          l->connecting ? EPOLLOUT : (reads(l, in) ? EPOLLIN : 0u) | (out->dst_blocked ? EPOLLOUT : 0u));
    watch(l, 1, l->far, (reads(l, out) ? EPOLLIN : 0u) | (in->dst_blocked ? EPOLLOUT : 0u));
}

static bool pump(struct link *l, uint64_t now)
{
    if (l->connecting)
        connect_outcome(l, now);
    struct way *out = &l->way[HOST_WIRE_OUT], *in = &l->way[HOST_WIRE_IN];
    fill(l, out, now); /* what the device sends while the real connect is under way waits */
    if (!l->connecting) {
        deliver(l, out, now);
        fill(l, in, now);
    }
    deliver(l, in, now); /* the RST of a failed connect too */
    if (l->way[0].finished && l->way[1].finished)
        return false;
    rewatch(l);
    return true;
}

static uint64_t next_due(const struct link *l)
{
    uint64_t due = UINT64_MAX;
    for (int i = 0; i < 2; i++) {
        const struct way *w = &l->way[i];
        bool waits = w->dst_blocked || (i == HOST_WIRE_OUT && l->connecting);
        if (w->head && !waits && w->head->due < due)
            due = w->head->due;
    }
    return due;
}

static void free_link(struct link *l)
{
    close(l->real); /* also takes them out of the epoll set */
    close(l->far);
    drop(&l->way[0]);
    drop(&l->way[1]);
    free(l);
}

/* --- the thread ---------------------------------------------------------------------------------- */

/* One pass over the links: move what can move, retire the finished; the next due time. */
static uint64_t pass(void)
{
    uint64_t now = host_monotonic_us(), due = UINT64_MAX;
    for (struct link **p = &links; *p;) {
        struct link *l = *p;
        if (!pump(l, now)) {
            *p = l->next;
            free_link(l);
            continue;
        }
        uint64_t d = next_due(l);
        due = d < due ? d : due;
        p = &l->next;
    }
    return due;
}

static void *run(void *arg)
{
    (void)arg;
    struct epoll_event ev[16];
    pthread_mutex_lock(&lock);
    for (;;) {
        uint64_t due = pass(), now = host_monotonic_us();
        /* Rounded up: a chunk is never handed on early. */
        int ms = due == UINT64_MAX ? -1 : due <= now ? 0 : (int)((due - now + 999) / 1000);
        pthread_mutex_unlock(&lock);
        epoll_wait(ep, ev, 16, ms);
        pthread_mutex_lock(&lock);
    }
    return NULL;
}

static void start(void)
{
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep >= 0 && host_thread_spawn(run, NULL, 128 * 1024) < 0) {
        close(ep);
        ep = -1;
    }
}

static int add_link(int real, int far, bool connecting, const struct host_wire_spec *spec)
{
    struct link *l = calloc(1, sizeof *l);
    pthread_once(&started, start);
    if (!l || ep < 0) {
        free(l);
        return -host_errno_to_device(ENOMEM);
    }
    *l = (struct link){.real = real, .far = far, .connecting = connecting, .window = (size_t)spec->window,
                       .chunk = (size_t)spec->chunk, .seed = spec->seed, .draw = spec->draw};
    l->way[HOST_WIRE_OUT] = (struct way){.p = spec->way[HOST_WIRE_OUT], .src = far, .dst = real};
    l->way[HOST_WIRE_IN] = (struct way){.p = spec->way[HOST_WIRE_IN], .src = real, .dst = far};
    pthread_mutex_lock(&lock);
    l->next = links;
    links = l;
    rewatch(l); /* from here on the thread hears of it */
    pthread_mutex_unlock(&lock);
    return 0;
}

/* --- making a link --------------------------------------------------------------------------- */

static int wire_socket(size_t window)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd >= 0)
        tighten(fd, window);
    return fd;
}

/* A listener for one pair: its address in *at. Its buffers are the far end's before the handshake,
 * which fixes the window the near end is offered (set after it, Linux keeps the larger one). */
static int pair_listener(host_addr *at, size_t window)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail();
    tighten(fd, window);
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(fd, 1) < 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
        int rc = fail();
        close(fd);
        return rc;
    }
    *at = (host_addr){ntohl(sin.sin_addr.s_addr), ntohs(sin.sin_port)};
    return fd;
}

/* The far end of the pair, once the near end's connect reached the listener (which goes). */
static int take_far(int listener)
{
    struct pollfd p = {listener, POLLIN, 0};
    int n = poll(&p, 1, PAIR_MS);
    int far = n == 1 ? accept4(listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK) : -1;
    int rc = far >= 0 ? far : n == 0 ? -host_errno_to_device(ETIMEDOUT) : fail();
    close(listener);
    return rc;
}

/* Wait (blocking) for a non-blocking connect's outcome. */
static int connected(int fd)
{
    struct pollfd p = {fd, POLLOUT, 0};
    while (poll(&p, 1, -1) < 0 && errno == EINTR)
        ;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    return err ? -host_errno_to_device(err) : 0;
}

int host_wire_connect(host_sock *s, host_addr to, const struct host_wire_spec *spec,
                      int (*next)(host_sock *, host_addr))
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(to.port), .sin_addr.s_addr = htonl(to.ip)};
    int real = wire_socket((size_t)spec->window);
    if (real < 0)
        return fail();
    int rc = connect(real, (struct sockaddr *)&sin, sizeof sin) == 0 || errno == EINPROGRESS ? 0 : fail();
    if (rc == 0 && !host_nonblocking(s))
        rc = connected(real); /* a blocking connect reports the real one's outcome */
    host_addr at;
    int listener = rc < 0 ? rc : pair_listener(&at, (size_t)spec->window);
    if (listener < 0) {
        close(real);
        return listener;
    }
    rc = next(s, at);
    s->peer = to; /* the host side's peer is the real one */
    near_buffer(s->fd, (size_t)spec->window);
    int far = rc == 0 || rc == -host_errno_to_device(EINPROGRESS) ? take_far(listener)
                                                                  : (close(listener), rc);
    int added = far < 0 ? far : add_link(real, far, true, spec);
    if (added < 0) {
        close(real);
        if (far >= 0)
            close(far);
        return added;
    }
    return rc;
}

int host_wire_accept(host_sock *child, const struct host_wire_spec *spec)
{
    host_addr at;
    int listener = pair_listener(&at, (size_t)spec->window), near = -1, far = -1;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(at.port), .sin_addr.s_addr = htonl(at.ip)};
    int rc = listener;
    if (listener >= 0) {
        near = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        near_buffer(near, (size_t)spec->window);
        rc = near < 0 || connect(near, (struct sockaddr *)&sin, sizeof sin) < 0 ? fail() : 0;
        far = rc < 0 ? (close(listener), rc) : take_far(listener);
    }
    if (far >= 0) {
        tighten(child->fd, (size_t)spec->window);
        host_set_nonblocking(child, true);
        rc = add_link(child->fd, far, false, spec);
    }
    if (far < 0 || rc < 0) {
        if (near >= 0)
            close(near);
        if (far >= 0)
            close(far);
        close(child->fd);
        return far < 0 ? far : rc;
    }
    child->fd = near;
    return 0;
}
