/*
 * The raw side: what a C programmer writes without upysock. Blocking kernel sockets, one
 * syscall per operation, detached pthreads, plain OpenSSL over the fd, epoll or poll(2).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "bench.h"

static int sys_fail(const char *what)
{
    bench_error("raw %s: %s", what, strerror(errno));
    return -1;
}

static struct sockaddr_in loopback(int port)
{
    return (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
}

/* --- plain --------------------------------------------------------------------------------- */

static int raw_listen(int port, int backlog, bsock *out)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;
    struct sockaddr_in sin = loopback(port);
    if (fd < 0)
        return sys_fail("socket");
    /* The tutorial's server sets SO_REUSEADDR too. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0 ||
        bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(fd, backlog) < 0) {
        close(fd);
        return sys_fail("listen");
    }
    out->fd = fd;
    return 0;
}

static int raw_accept(bsock listener, bsock *out)
{
    struct sockaddr_in peer;
    socklen_t len = sizeof peer; /* upysock reports the peer too: ask the kernel the same */
    int fd = accept4(listener.fd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
    if (fd < 0)
        return sys_fail("accept");
    out->fd = fd;
    return 0;
}

static int raw_connect(int port, bsock *out)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = loopback(port);
    if (fd < 0)
        return sys_fail("socket");
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
        close(fd);
        return sys_fail("connect");
    }
    out->fd = fd;
    return 0;
}

static ssize_t raw_send(bsock s, const void *buf, size_t len)
{
    size_t sent = 0;
    while (sent < len) {
        ssize_t n = send(s.fd, (const char *)buf + sent, len - sent, MSG_NOSIGNAL);
        if (n < 0 && errno != EINTR)
            return sys_fail("send");
        sent += n > 0 ? (size_t)n : 0;
    }
    return (ssize_t)sent;
}

static ssize_t raw_recv(bsock s, void *buf, size_t len)
{
    ssize_t n;
    while ((n = recv(s.fd, buf, len, 0)) < 0 && errno == EINTR)
        ;
    return n < 0 ? sys_fail("recv") : n;
}

static void raw_close(bsock s)
{
    close(s.fd);
}

/* Not timed. shutdown() first: close() alone does not wake a thread blocked in accept(), and a
 * failed run must not leave its acceptor behind. */
static void raw_close_listener(bsock s)
{
    shutdown(s.fd, SHUT_RDWR);
    close(s.fd);
}

struct spawn_arg {
    int (*fn)(void *);
    void *arg;
};

static void *spawn_trampoline(void *p)
{
    struct spawn_arg a = *(struct spawn_arg *)p;
    free(p);
    a.fn(a.arg);
    return NULL;
}

static int raw_spawn(int (*fn)(void *), void *arg)
{
    struct spawn_arg *a = malloc(sizeof *a);
    pthread_attr_t attr;
    pthread_t id;
    if (!a)
        return -1;
    *a = (struct spawn_arg){fn, arg};
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&id, &attr, spawn_trampoline, a);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        free(a);
        errno = rc;
        return sys_fail("pthread_create");
    }
    return 0;
}

static int raw_open_tcp(bsock *out)
{
    out->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    return out->fd < 0 ? sys_fail("socket") : 0;
}

static int raw_open_idle(bsock *out)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = loopback(0);
    if (fd < 0)
        return sys_fail("socket");
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
        close(fd);
        return sys_fail("bind");
    }
    out->fd = fd;
    return 0;
}

const struct net_ops raw_plain_ops = {
    .side = "raw",
    .listen = raw_listen,
    .accept = raw_accept,
    .connect = raw_connect,
    .send = raw_send,
    .recv = raw_recv,
    .close = raw_close,
    .close_listener = raw_close_listener,
    .spawn = raw_spawn,
    .open_tcp = raw_open_tcp,
    .open_idle = raw_open_idle,
};

/* --- TLS: OpenSSL straight over the blocking fd --------------------------------------------- */

static SSL_CTX *tls_ctx[2]; /* [server] */
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static int tls_fail(const char *what)
{
    char text[256];
    ERR_error_string_n(ERR_get_error(), text, sizeof text);
    bench_error("raw %s: %s", what, text);
    ERR_clear_error();
    return -1;
}

SSL_CTX *raw_tls_ctx(bool server)
{
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx)
        return NULL;
    bool ok = SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) &&
              SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION) &&
              SSL_CTX_set_cipher_list(ctx, BENCH_TLS_CIPHER) && SSL_CTX_set1_groups_list(ctx, BENCH_TLS_GROUP);
    /* No resumption: no tickets, and no client ever offers a session, so every handshake is a
     * full one. The server keeps OpenSSL's default session cache, as upysock's server does. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    if (server)
        ok = ok && SSL_CTX_use_certificate_file(ctx, tls_fx.cert, SSL_FILETYPE_PEM) == 1 &&
             SSL_CTX_use_PrivateKey_file(ctx, tls_fx.key, SSL_FILETYPE_PEM) == 1;
    else
        ok = ok && SSL_CTX_load_verify_locations(ctx, tls_fx.ca, NULL) == 1;
    SSL_CTX_set_verify(ctx, server ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    if (!ok) {
        tls_fail("SSL_CTX");
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static void make_ctxs(void)
{
    tls_ctx[0] = raw_tls_ctx(false);
    tls_ctx[1] = raw_tls_ctx(true);
}

static SSL *tls_over(int fd, bool server)
{
    pthread_once(&tls_once, make_ctxs);
    SSL *ssl = tls_ctx[server] ? SSL_new(tls_ctx[server]) : NULL;
    if (!ssl || !SSL_set_fd(ssl, fd) || (server ? SSL_accept(ssl) : SSL_connect(ssl)) != 1) {
        tls_fail(server ? "SSL_accept" : "SSL_connect");
        SSL_free(ssl);
        close(fd);
        return NULL;
    }
    return ssl;
}

static int raw_tls_accept(bsock listener, bsock *out)
{
    bsock plain;
    if (raw_accept(listener, &plain) < 0)
        return -1;
    out->ssl = tls_over(plain.fd, true);
    return out->ssl ? 0 : -1;
}

static int raw_tls_connect(int port, bsock *out)
{
    bsock plain;
    if (raw_connect(port, &plain) < 0)
        return -1;
    out->ssl = tls_over(plain.fd, false);
    return out->ssl ? 0 : -1;
}

static ssize_t raw_tls_send(bsock s, const void *buf, size_t len)
{
    /* SSL_MODE_ENABLE_PARTIAL_WRITE is off: a blocking SSL_write writes everything. */
    int n = SSL_write(s.ssl, buf, (int)len);
    return n > 0 ? n : tls_fail("SSL_write");
}

static ssize_t raw_tls_recv(bsock s, void *buf, size_t len)
{
    int n = SSL_read(s.ssl, buf, (int)len);
    if (n > 0)
        return n;
    int err = SSL_get_error(s.ssl, n);
    if (err == SSL_ERROR_ZERO_RETURN || err == SSL_ERROR_SYSCALL) /* close_notify, or EOF */
        return ERR_clear_error(), 0;
    return tls_fail("SSL_read");
}

static void raw_tls_close(bsock s)
{
    int fd = SSL_get_fd(s.ssl);
    SSL_shutdown(s.ssl); /* sends close_notify, as the device's close does */
    SSL_free(s.ssl);
    close(fd);
}

const struct net_ops raw_tls_ops = {
    .side = "raw",
    .listen = raw_listen,
    .accept = raw_tls_accept,
    .connect = raw_tls_connect,
    .send = raw_tls_send,
    .recv = raw_tls_recv,
    .close = raw_tls_close,
    .close_listener = raw_close_listener,
    .spawn = raw_spawn,
};

/* --- pollers ------------------------------------------------------------------------------- */

struct raw_epoll {
    int ep;
};

static void *epoll_create_(int capacity)
{
    (void)capacity;
    struct raw_epoll *p = xcalloc(1, sizeof *p);
    p->ep = epoll_create1(EPOLL_CLOEXEC);
    if (p->ep < 0) {
        sys_fail("epoll_create1");
        free(p);
        return NULL;
    }
    return p;
}

static int epoll_add_(void *poller, bsock s, int tag)
{
    struct raw_epoll *p = poller;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)tag};
    return epoll_ctl(p->ep, EPOLL_CTL_ADD, s.fd, &ev) < 0 ? sys_fail("epoll_ctl") : 0;
}

static int epoll_wait_(void *poller)
{
    struct raw_epoll *p = poller;
    struct epoll_event ev[8];
    int n;
    while ((n = epoll_wait(p->ep, ev, 8, -1)) < 0 && errno == EINTR)
        ;
    return n > 0 ? (int)ev[0].data.u32 : sys_fail("epoll_wait");
}

static void epoll_destroy_(void *poller)
{
    struct raw_epoll *p = poller;
    close(p->ep);
    free(p);
}

const struct poll_ops raw_epoll_ops = {
    .name = "raw-epoll",
    .net = &raw_plain_ops,
    .create = epoll_create_,
    .add = epoll_add_,
    .wait = epoll_wait_,
    .destroy = epoll_destroy_,
};

struct raw_poll {
    struct pollfd *fds;
    int *tags;
    int n, cap;
};

static void *poll_create_(int capacity)
{
    struct raw_poll *p = xcalloc(1, sizeof *p);
    p->fds = xcalloc((size_t)capacity, sizeof *p->fds);
    p->tags = xcalloc((size_t)capacity, sizeof *p->tags);
    p->cap = capacity;
    return p;
}

static int poll_add_(void *poller, bsock s, int tag)
{
    struct raw_poll *p = poller;
    if (p->n == p->cap)
        return -1;
    p->fds[p->n] = (struct pollfd){s.fd, POLLIN, 0};
    p->tags[p->n++] = tag;
    return 0;
}

/* A poll(2) user scans for the ready entry: that scan is part of poll(2)'s cost. */
static int poll_wait_(void *poller)
{
    struct raw_poll *p = poller;
    int n;
    while ((n = poll(p->fds, (nfds_t)p->n, -1)) < 0 && errno == EINTR)
        ;
    if (n < 0)
        return sys_fail("poll");
    for (int i = 0; i < p->n; i++)
        if (p->fds[i].revents)
            return p->tags[i];
    return -1;
}

static void poll_destroy_(void *poller)
{
    struct raw_poll *p = poller;
    free(p->fds);
    free(p->tags);
    free(p);
}

const struct poll_ops raw_poll_ops = {
    .name = "raw-poll",
    .net = &raw_plain_ops,
    .create = poll_create_,
    .add = poll_add_,
    .wait = poll_wait_,
    .destroy = poll_destroy_,
};
