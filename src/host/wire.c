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
 * A delayed connect crosses the link too (phases SYN, CONNECTING, ANSWER): the device socket sends
 * its SYN to the stall, a listener whose queue is kept full so the kernel drops every SYN to it,
 * and stays connecting; the real connect starts once the SYN would have reached the peer, and once
 * its outcome would be back at the device, the wire answers: from the stall's port it connects
 * to the device socket, the two SYNs cross (TCP's simultaneous open) and the device's connect
 * completes, or it shuts the device socket, which fails its connect as the peer's RST does. So
 * blocking, timed and non-blocking connects and poll all see the round trip without knowing.
 * The real socket leaves from the device socket's own address and port, so the peer sees them.
 *
 * One thread (started with the first link) moves everything: it sleeps in epoll until a socket
 * it needs is ready or the next chunk is due. The links are only touched under `lock`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "wire.h"

#define PAIR_MS 10000 /* the pair's own loopback handshake: at once, unless the machine is stuck */

enum mark { DATA, FIN, RST };

/* Where a link is in its life: a connect's handshake crossing the link, then bytes. */
enum phase {
    SYN,        /* the device's SYN is on its way: the real connect starts at `due` */
    CONNECTING, /* the real connect is under way */
    ANSWER,     /* the peer's answer is on its way: it reaches the device at `due` */
    LIVE,       /* the bytes move */
};

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
    int real, far;               /* far: -1 until LIVE */
    int near;                    /* until LIVE, a connect's device socket (a dup), which the answer
                                    opens or refuses; else -1 */
    enum phase phase;
    uint64_t due;                /* SYN, ANSWER: when the phase ends */
    bool refused;                /* ANSWER: the real connect failed */
    struct sockaddr_in to, device; /* a connect's peer, and the device socket's own address */
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
enum { WAKE = 1 };               /* its epoll data (the links' sockets have 0) */
static int wake = -1;            /* an eventfd in the set: a new link's due time is news */
static struct sockaddr_in stall; /* the stall's address (port 0: there is none) */

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

static int wire_socket(size_t window)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd >= 0)
        tighten(fd, window);
    return fd;
}

/* --- a way: queue, read, deliver ------------------------------------------------------------- */


/* How long the way's next crossing takes: its latency and the next jitter draw (a segment's, or a
 * handshake step's: the board's SYN meets the same radio). */
static uint64_t crossing(struct link *l, struct way *w)
{
    uint64_t jitter = w->p.jitter_us ? l->draw(l->seed, (int)(w - l->way), w->drawn++) % (w->p.jitter_us + 1) : 0;
    return w->p.latency_us + jitter;
}

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
    uint64_t due = w->sent_until + crossing(l, w);
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

/* Read what the source has, while the window has room. Each chunk is stamped when its read
 * returned, not when the pass began: bytes that came in meanwhile are never handed on early. */
static void fill(struct link *l, struct way *w)
{
    char buf[2048];
    size_t max = l->chunk < sizeof buf ? l->chunk : sizeof buf;
    while (!w->src_done && w->held < l->window) {
        size_t room = l->window - w->held;
        ssize_t n = recv(w->src, buf, room < max ? room : max, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        enqueue(l, w, n > 0 ? DATA : n == 0 ? FIN : RST, buf, n > 0 ? (size_t)n : 0, host_monotonic_us());
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

/* The peer's answer sets off back to the device: it arrives after the IN way's latency. */
static void answer_at(struct link *l, uint64_t now, bool refused)
{
    l->phase = ANSWER;
    l->due = now + crossing(l, &l->way[HOST_WIRE_IN]);
    l->refused = refused;
}

/* The real connect's outcome, once there is one. */
static void connect_outcome(struct link *l, uint64_t now)
{
    struct pollfd p = {l->real, POLLOUT, 0};
    if (poll(&p, 1, 0) == 0)
        return;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(l->real, SOL_SOCKET, SO_ERROR, &err, &len);
    answer_at(l, now, err != 0);
}

/* The far end answers the device socket's SYN (which the stall dropped) with its own from the
 * stall's port: the SYNs cross, and both ends are connected. It shares the stall's port, so both
 * have SO_REUSEPORT. */
static int open_far(const struct link *l)
{
    int fd = wire_socket(l->window);
    if (fd < 0)
        return -1;
    set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
    if (bind(fd, (const struct sockaddr *)&stall, sizeof stall) < 0 ||
        (connect(fd, (const struct sockaddr *)&l->device, sizeof l->device) < 0 && errno != EINPROGRESS)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The answer reaches the device: its connect completes, or fails as refused (shut while
 * connecting, Linux gives it ECONNRESET: the board's 104 for a refusal). False: the link is over. */
static bool answer(struct link *l)
{
    if (l->refused) {
        shutdown(l->near, SHUT_RDWR);
        return false;
    }
    l->far = open_far(l);
    close(l->near);
    l->near = -1;
    if (l->far < 0) {
        reset(l->real);
        return false;
    }
    l->way[HOST_WIRE_OUT].src = l->way[HOST_WIRE_IN].dst = l->far;
    l->phase = LIVE;
    return true;
}

/* A connect's handshake, each step at its time. False: the link is over. */
static bool handshake(struct link *l, uint64_t now)
{
    if (l->phase == SYN && now >= l->due) {
        l->phase = CONNECTING;
        if (connect(l->real, (struct sockaddr *)&l->to, sizeof l->to) < 0 && errno != EINPROGRESS)
            answer_at(l, now, true);
    }
    if (l->phase == CONNECTING)
        connect_outcome(l, now);
    return l->phase != ANSWER || now < l->due || answer(l);
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
    bool live = l->phase == LIVE;
    watch(l, 0, l->real,
          l->phase == CONNECTING ? EPOLLOUT
          : live                 ? (reads(l, in) ? EPOLLIN : 0u) | (out->dst_blocked ? EPOLLOUT : 0u)
                                 : 0u);
    watch(l, 1, l->far, live ? (reads(l, out) ? EPOLLIN : 0u) | (in->dst_blocked ? EPOLLOUT : 0u) : 0u);
}

static bool pump(struct link *l, uint64_t now)
{
    if (l->phase != LIVE && !handshake(l, now))
        return false;
    if (l->phase == LIVE) {
        for (int i = HOST_WIRE_OUT; i <= HOST_WIRE_IN; i++) {
            fill(l, &l->way[i]);
            deliver(l, &l->way[i], now);
        }
        if (l->way[0].finished && l->way[1].finished)
            return false;
    }
    rewatch(l);
    return true;
}

static uint64_t next_due(const struct link *l)
{
    if (l->phase != LIVE)
        return l->phase == CONNECTING ? UINT64_MAX : l->due;
    uint64_t due = UINT64_MAX;
    for (int i = 0; i < 2; i++) {
        const struct way *w = &l->way[i];
        if (w->head && !w->dst_blocked && w->head->due < due)
            due = w->head->due;
    }
    return due;
}

static void close_if_open(int fd)
{
    if (fd >= 0)
        close(fd);
}

static void free_link(struct link *l)
{
    close(l->real); /* also takes them out of the epoll set */
    close_if_open(l->far);
    close_if_open(l->near);
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
        int n = epoll_wait(ep, ev, 16, ms);
        for (int i = 0; i < n; i++)
            if (ev[i].data.u32 == WAKE) {
                uint64_t news;
                (void)!read(wake, &news, sizeof news);
            }
        pthread_mutex_lock(&lock);
    }
    return NULL;
}

/* The stall: a listener on loopback whose queue two connections keep full (Linux holds backlog + 1),
 * so the kernel drops every SYN to it and a connect to it stays connecting. For the process's
 * life, like the fault module's own sinks. SO_REUSEPORT: each link's far end binds its port. */
static void make_stall(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
    bool ok = bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0 && listen(fd, 1) == 0 &&
              getsockname(fd, (struct sockaddr *)&sin, &len) == 0;
    for (int i = 0; ok && i < 2; i++) {
        int filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ok = filler >= 0 && connect(filler, (struct sockaddr *)&sin, sizeof sin) == 0;
    }
    if (ok)
        stall = sin;
}

static void start(void)
{
    make_stall();
    ep = stall.sin_port ? epoll_create1(EPOLL_CLOEXEC) : -1;
    wake = ep >= 0 ? eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) : -1;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = WAKE};
    if (ep >= 0 && (wake < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, wake, &ev) < 0 ||
                    host_thread_spawn(run, NULL, 128 * 1024) < 0)) {
        close_if_open(wake);
        close(ep);
        ep = -1;
    }
}

static struct link *new_link(int real, const struct host_wire_spec *spec)
{
    struct link *l = malloc(sizeof *l);
    if (!l)
        return NULL;
    *l = (struct link){.real = real, .far = -1, .near = -1, .window = (size_t)spec->window,
                       .chunk = (size_t)spec->chunk, .seed = spec->seed, .draw = spec->draw};
    l->way[HOST_WIRE_OUT] = (struct way){.p = spec->way[HOST_WIRE_OUT], .src = -1, .dst = real};
    l->way[HOST_WIRE_IN] = (struct way){.p = spec->way[HOST_WIRE_IN], .src = real, .dst = -1};
    return l;
}

static void add_link(struct link *l)
{
    pthread_mutex_lock(&lock);
    l->next = links;
    links = l;
    rewatch(l); /* from here on the thread hears of it */
    pthread_mutex_unlock(&lock);
    if (l->phase == SYN) { /* a due time the sleeping thread does not know: it looks again */
        uint64_t one = 1;
        (void)!write(wake, &one, sizeof one);
    }
}

/* --- making a link --------------------------------------------------------------------------- */

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

/* The real socket leaves from the device socket's own address and port, so the peer sees the
 * device's port (TCP lets sockets that do not listen share a port when all of them have
 * SO_REUSEADDR, which every lwIP socket has). An unbound device socket is bound here, to the port
 * its connect would have taken. Keep-alive set before connect goes to the real connection, which
 * is the one whose peer would notice it. */
static const struct {
    int level, name;
} carried[] = {{SOL_SOCKET, SO_KEEPALIVE}, {IPPROTO_TCP, TCP_KEEPIDLE}, {IPPROTO_TCP, TCP_KEEPINTVL},
               {IPPROTO_TCP, TCP_KEEPCNT}};

static int real_socket(int device, size_t window)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof sin;
    set_int(device, SOL_SOCKET, SO_REUSEADDR, 1);
    if (getsockname(device, (struct sockaddr *)&sin, &len) < 0 ||
        (sin.sin_port == 0 && (bind(device, (struct sockaddr *)&sin, sizeof sin) < 0 ||
                               getsockname(device, (struct sockaddr *)&sin, &len) < 0)))
        return fail();
    int fd = wire_socket(window);
    if (fd < 0)
        return fail();
    set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    for (size_t i = 0; i < sizeof carried / sizeof carried[0]; i++) {
        int v = 0;
        socklen_t vlen = sizeof v;
        if (getsockopt(device, carried[i].level, carried[i].name, &v, &vlen) == 0)
            set_int(fd, carried[i].level, carried[i].name, v);
    }
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
        int rc = fail();
        close(fd);
        return rc;
    }
    return fd;
}

/* A blocking connect waits for the answer as the kernel's own would: until it comes, until the
 * socket's send timeout (then in progress, as connect(2) says), or until close() from another
 * thread shuts the socket (host_shutdown), which ends it as it ends a plain connect. */
static int answered(host_sock *s)
{
    struct timeval tv = {0, 0};
    socklen_t len = sizeof tv;
    getsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &len);
    uint64_t us = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
    host_wait(&(host_waiter){.on = HOST_WAIT_SOCK, .sock = s, .events = HOST_EV_OUT},
              us ? host_deadline_in_us(us) : HOST_NEVER);
    return host_connect_result(s);
}

/* The link of a connect whose SYN just left for the stall. */
static int connect_link(host_sock *s, int real, host_addr to, const struct host_wire_spec *spec)
{
    struct link *l = new_link(real, spec);
    socklen_t len = sizeof l->device;
    if (!l || getsockname(s->fd, (struct sockaddr *)&l->device, &len) < 0 ||
        (l->near = fcntl(s->fd, F_DUPFD_CLOEXEC, 0)) < 0) {
        int rc = l ? fail() : -host_errno_to_device(ENOMEM);
        free(l);
        return rc;
    }
    l->to = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(to.port), .sin_addr.s_addr = htonl(to.ip)};
    l->phase = SYN;
    l->due = host_monotonic_us() + crossing(l, &l->way[HOST_WIRE_OUT]);
    add_link(l);
    return 0;
}

int host_wire_connect(host_sock *s, host_addr to, const struct host_wire_spec *spec,
                      int (*next)(host_sock *, host_addr))
{
    pthread_once(&started, start);
    if (ep < 0)
        return -host_errno_to_device(ENOMEM);
    int real = real_socket(s->fd, (size_t)spec->window);
    if (real < 0)
        return real;
    near_buffer(s->fd, (size_t)spec->window);
    /* The SYN leaves at once whatever the mode: a blocking socket then waits below. */
    bool blocking = !host_nonblocking(s);
    int rc = blocking ? host_set_nonblocking(s, true) : 0;
    if (rc == 0) {
        rc = next(s, (host_addr){ntohl(stall.sin_addr.s_addr), ntohs(stall.sin_port)});
        if (blocking)
            host_set_nonblocking(s, false);
    }
    s->peer = to; /* the host side's peer is the real one */
    int in_progress = -host_errno_to_device(EINPROGRESS);
    /* (0 cannot be: the stall never takes a connection, it is full.) */
    rc = rc == in_progress ? connect_link(s, real, to, spec) : rc < 0 ? rc : -host_errno_to_device(EIO);
    if (rc < 0) {
        shutdown(s->fd, SHUT_RDWR); /* a SYN left, and nothing will answer it */
        close(real);
        return rc;
    }
    return blocking ? answered(s) : in_progress;
}

int host_wire_accept(host_sock *child, const struct host_wire_spec *spec)
{
    host_addr at = {0}; /* the compiler cannot tell that fail() is negative */
    int listener = pair_listener(&at, (size_t)spec->window), near = -1, far = -1;
    int rc = listener;
    if (listener >= 0) {
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(at.port), .sin_addr.s_addr = htonl(at.ip)};
        near = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        near_buffer(near, (size_t)spec->window);
        rc = near < 0 || connect(near, (struct sockaddr *)&sin, sizeof sin) < 0 ? fail() : 0;
        far = rc < 0 ? (close(listener), rc) : take_far(listener);
    }
    struct link *l = NULL;
    if (far >= 0) {
        tighten(child->fd, (size_t)spec->window);
        host_set_nonblocking(child, true);
        l = new_link(child->fd, spec);
    }
    if (!l) {
        close_if_open(near);
        close_if_open(far);
        close(child->fd);
        return far < 0 ? far : -host_errno_to_device(ENOMEM);
    }
    l->far = l->way[HOST_WIRE_OUT].src = l->way[HOST_WIRE_IN].dst = far;
    l->phase = LIVE;
    add_link(l);
    /* The peer sees the real connection's address, not the near end's: keep it for observers. */
    host_local_addr(child, &child->local);
    child->fd = near;
    return 0;
}
