/*
 * The upysock side: the same calls through the library, written as the tutorials write them.
 */
#include <stdio.h>

#include <upysock/upy.h>
#include <upysock/upy_config.h>
#include <upysock/usocket.h>
#include <upysock/uthread.h>

#include "bench.h"

static int upy_fail(const char *what)
{
    char text[UPY_EXC_MESSAGE_MAX + 32];
    upy_exc_format(NULL, text, sizeof text);
    bench_error("upysock %s: %s", what, text);
    return -1;
}

int upy_profile_for(int max_sockets, long recv_cap)
{
    if (upy_config_profile("pycom-1.20.2") < 0 ||
        (max_sockets > 0 && upy_config_limit(UPY_LIMIT_MAX_SOCKETS, max_sockets) < 0) ||
        (recv_cap != 0 && upy_config_limit(UPY_LIMIT_RECV_CAP, recv_cap < 0 ? 0 : recv_cap) < 0))
        return upy_fail("profile");
    return 0;
}

static usocket *new_socket(int type)
{
    usocket *s = usocket_socket(USOCKET_AF_INET, type, 0);
    if (!s)
        upy_fail("socket");
    return s;
}

/* Closing and dropping the object: what the end of a Python function does. */
static void drop(usocket *s)
{
    usocket_close(s);
    usocket_release(s);
}

static int upy_listen(int port, int backlog, bsock *out)
{
    usocket *s = new_socket(USOCKET_SOCK_STREAM);
    if (!s)
        return -1;
    if (usocket_setsockopt_int(s, USOCKET_SOL_SOCKET, USOCKET_SO_REUSEADDR, 1) < 0 ||
        usocket_bind(s, &(usocket_addr){"127.0.0.1", port}) < 0 || usocket_listen(s, backlog) < 0) {
        upy_fail("listen");
        drop(s);
        return -1;
    }
    out->u = s;
    return 0;
}

static int upy_accept(bsock listener, bsock *out)
{
    usocket_addr peer;
    out->u = usocket_accept(listener.u, &peer);
    return out->u ? 0 : upy_fail("accept");
}

static int upy_connect(int port, bsock *out)
{
    usocket *s = new_socket(USOCKET_SOCK_STREAM);
    if (!s)
        return -1;
    if (usocket_connect(s, &(usocket_addr){"127.0.0.1", port}) < 0) {
        upy_fail("connect");
        drop(s);
        return -1;
    }
    out->u = s;
    return 0;
}

static ssize_t upy_send(bsock s, const void *buf, size_t len)
{
    ssize_t n = usocket_send(s.u, buf, len);
    return n < 0 ? upy_fail("send") : n;
}

static ssize_t upy_recv(bsock s, void *buf, size_t len)
{
    ssize_t n = usocket_recv(s.u, buf, len);
    return n < 0 ? upy_fail("recv") : n;
}

static void upy_close(bsock s)
{
    drop(s.u);
}

static int upy_spawn(int (*fn)(void *), void *arg)
{
    return uthread_start_new_thread(fn, arg) < 0 ? upy_fail("start_new_thread") : 0;
}

static int upy_open_tcp(bsock *out)
{
    out->u = new_socket(USOCKET_SOCK_STREAM);
    return out->u ? 0 : -1;
}

static int upy_open_idle(bsock *out)
{
    usocket *s = new_socket(USOCKET_SOCK_DGRAM);
    if (!s)
        return -1;
    if (usocket_bind(s, &(usocket_addr){"127.0.0.1", 0}) < 0) {
        upy_fail("bind");
        drop(s);
        return -1;
    }
    out->u = s;
    return 0;
}

const struct net_ops upy_plain_ops = {
    .side = "upysock",
    .listen = upy_listen,
    .accept = upy_accept,
    .connect = upy_connect,
    .send = upy_send,
    .recv = upy_recv,
    .close = upy_close,
    .close_listener = upy_close,
    .spawn = upy_spawn,
    .open_tcp = upy_open_tcp,
    .open_idle = upy_open_idle,
};

#ifdef BENCH_HAVE_USELECT
#include <stdlib.h>

#include <upysock/uselect.h>

/* A poll object, and the two sockets whose tags wait() reports (pollscale's active pair). */
struct upy_poller {
    uselect_poller *p;
    usocket *tagged[2];
};

static void *upy_poll_create(int capacity)
{
    (void)capacity;
    struct upy_poller *up = xcalloc(1, sizeof *up);
    up->p = uselect_poll();
    if (!up->p) {
        upy_fail("poll");
        free(up);
        return NULL;
    }
    return up;
}

static int upy_poll_add(void *poller, bsock s, int tag)
{
    struct upy_poller *up = poller;
    if (uselect_poll_register(up->p, s.u, USELECT_POLLIN) < 0)
        return upy_fail("register");
    if (tag >= 0 && tag < 2)
        up->tagged[tag] = s.u;
    return 0;
}

static int upy_poll_wait(void *poller)
{
    struct upy_poller *up = poller;
    uselect_event ev[8]; /* the raw epoll side asks for 8 too */
    int n = uselect_poll_poll(up->p, -1, 0, ev, 8);
    if (n <= 0)
        return n < 0 ? upy_fail("poll") : -1;
    return ev[0].obj == up->tagged[0] ? 0 : ev[0].obj == up->tagged[1] ? 1 : 2;
}

static void upy_poll_destroy(void *poller)
{
    struct upy_poller *up = poller;
    uselect_poll_free(up->p);
    free(up);
}

const struct poll_ops upy_poll_ops = {
    .name = "upysock",
    .net = &upy_plain_ops,
    .create = upy_poll_create,
    .add = upy_poll_add,
    .wait = upy_poll_wait,
    .destroy = upy_poll_destroy,
};
#endif

#ifdef BENCH_HAVE_USSL
#include <upysock/ussl.h>

/* The tutorial's order on a blocking socket: wrap, then connect (the handshake runs in
 * connect). The plain object is dropped at once: the SSL object holds its own reference. */
static int upy_tls_connect(int port, bsock *out)
{
    usocket *s = new_socket(USOCKET_SOCK_STREAM);
    if (!s)
        return -1;
    usocket *ss = ussl_wrap_socket(s, &(ussl_options){.ca_certs = tls_fx.ca, .cert_reqs = USSL_CERT_REQUIRED});
    usocket_release(s);
    if (!ss)
        return upy_fail("wrap_socket");
    if (usocket_connect(ss, &(usocket_addr){"127.0.0.1", port}) < 0) {
        upy_fail("connect");
        drop(ss);
        return -1;
    }
    out->u = ss;
    return 0;
}

/* An accepted socket is connected: wrap_socket runs the server handshake. */
static int upy_tls_accept(bsock listener, bsock *out)
{
    bsock plain;
    if (upy_accept(listener, &plain) < 0)
        return -1;
    out->u = ussl_wrap_socket(plain.u, &(ussl_options){.keyfile = tls_fx.key, .certfile = tls_fx.cert,
                                                       .server_side = true});
    if (!out->u) {
        upy_fail("wrap_socket(server_side)");
        drop(plain.u);
        return -1;
    }
    usocket_release(plain.u);
    return 0;
}

const struct net_ops upy_tls_ops = {
    .side = "upysock",
    .listen = upy_listen,
    .accept = upy_tls_accept,
    .connect = upy_tls_connect,
    .send = upy_send,
    .recv = upy_recv,
    .close = upy_close,
    .close_listener = upy_close,
    .spawn = upy_spawn,
};
#endif
