/*
 * Helper for the TCP tests that need the network to fail: it enters a network namespace of its
 * own (only a loopback interface; nothing it sends can leave the machine), where it may bend the
 * kernel's TCP settings and take loopback down, then runs one case and prints its result as
 * "CASE: <the exception as the device prints it>" (or "CASE: ok"). Exit status 77 with
 * "netns: unavailable" when the namespace cannot be created (an unprivileged container).
 *
 *   syn_timeout    blocking connect to a listener whose SYNs are dropped, with one SYN retry
 *   no_route       blocking connect (UPYSOCK_NET=host) to an address no route leads to
 *   keepalive      blocking recv on a connection whose peer vanished, keepalive 1 s / 1 s / 1
 *   fault_hang     blocking connect under `hang *:PORT` to a real listener, one SYN retry; prints
 *                  each step of what the socket is afterwards, one line each
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <upysock/uselect.h>

#include "testutil.h"

static void die(const char *what)
{
    perror(what);
    exit(2);
}

static void set_loopback(bool up)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = {0};
    strcpy(ifr.ifr_name, "lo");
    if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
        die("SIOCGIFFLAGS lo");
    ifr.ifr_flags = (short)(up ? ifr.ifr_flags | IFF_UP : ifr.ifr_flags & ~IFF_UP);
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
        die("SIOCSIFFLAGS lo");
    close(fd);
}

/* A per-namespace sysctl: /proc/sys/net resolves against the opener's namespace. */
static void sysctl_net(const char *path, const char *value)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, value, strlen(value)) != (ssize_t)strlen(value))
        die(path);
    close(fd);
}

static int syn_timeout(void)
{
    /* One retry: the kernel gives up after 1 s + 2 s instead of the default two minutes. */
    sysctl_net("/proc/sys/net/ipv4/tcp_syn_retries", "1");
    int port, filler, hole = tu_blackhole(&port, &filler);
    usocket *s = tu_tcp();
    usocket_addr a = tu_loopback(port);
    int rc = usocket_connect(s, &a);
    usocket_release(s);
    close(filler);
    close(hole);
    return rc;
}

static int no_route(void)
{
    if (upy_config_net("host") < 0)
        return -1;
    usocket *s = tu_tcp();
    usocket_addr a = {"10.1.2.3", 80}; /* the namespace has no route but loopback's */
    int rc = usocket_connect(s, &a);
    usocket_release(s);
    return rc;
}

static int keepalive(void)
{
    int peer;
    usocket *s = tu_usock_connected(&peer);
    const int opts[][2] = {{USOCKET_TCP_KEEPIDLE, 1}, {USOCKET_TCP_KEEPINTVL, 1}, {USOCKET_TCP_KEEPCNT, 1}};
    int rc = usocket_setsockopt_int(s, USOCKET_SOL_SOCKET, USOCKET_SO_KEEPALIVE, 1);
    for (size_t i = 0; rc == 0 && i < sizeof opts / sizeof opts[0]; i++)
        rc = usocket_setsockopt_int(s, USOCKET_IPPROTO_TCP, opts[i][0], opts[i][1]);
    set_loopback(false); /* the probes go nowhere and nothing answers them */
    char b[8];
    if (rc == 0)
        rc = (int)usocket_recv(s, b, sizeof b);
    usocket_release(s);
    close(peer);
    return rc;
}

/* One step's outcome, as the tests compare it: the exception as the device prints it, or the
 * value. */
static void say(const char *step, long rc)
{
    char text[256];
    if (rc < 0)
        upy_exc_format(NULL, text, sizeof text);
    else
        snprintf(text, sizeof text, "%ld", rc);
    printf("%s: %s\n", step, text);
}

/* The SYNs a hang rule swallows are retried until the kernel gives up (1 s + 2 s with one retry),
 * and the socket is then what lwIP's err_tcp leaves after ERR_ABRT: open, its error fatal for
 * every call, polled readable, writable and in error. The real listener never sees a SYN. */
static int fault_hang(void)
{
    sysctl_net("/proc/sys/net/ipv4/tcp_syn_retries", "1");
    int port;
    usocket *l = tu_usock_listener(2, &port);
    char rule[32];
    snprintf(rule, sizeof rule, "hang *:%d", port);
    if (upy_config_faults(rule) < 0)
        return -1;
    usocket *s = tu_tcp();
    usocket_addr a = tu_loopback(port);
    uint64_t t0 = tu_now_ms();
    say("connect", usocket_connect(s, &a));
    say("seconds", (long)((tu_now_ms() - t0) / 1000));
    say("open", usocket_fileno(s) >= 0);
    char b[4];
    say("send", (long)usocket_send(s, "x", 1));
    say("recv", (long)usocket_recv(s, b, sizeof b));
    uselect_poller *p = uselect_poll();
    uselect_event ev[1];
    uselect_poll_register(p, s, USELECT_POLLIN | USELECT_POLLOUT | USELECT_POLLHUP);
    say("poll", uselect_poll_poll(p, 0, 0, ev, 1) == 1 ? ev[0].revents : 0);
    uselect_poll_free(p);
    say("connect again", usocket_connect(s, &a));
    usocket_setblocking(l, false);
    usocket_addr from;
    usocket *child = usocket_accept(l, &from);
    say("accept", child ? 0 : -1);
    if (child)
        usocket_release(child);
    usocket_release(s);
    usocket_release(l);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: netns_probe syn_timeout|no_route|keepalive|fault_hang\n");
        return 2;
    }
    if (unshare(CLONE_NEWNET) < 0) {
        printf("netns: unavailable (%s)\n", strerror(errno));
        return TU_SKIP_STATUS;
    }
    set_loopback(true);
    static const struct {
        const char *name;
        int (*run)(void);
    } cases[] = {{"syn_timeout", syn_timeout}, {"no_route", no_route}, {"keepalive", keepalive},
                   {"fault_hang", fault_hang}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (strcmp(argv[1], cases[i].name) != 0)
            continue;
        if (cases[i].run() < 0) {
            char text[256];
            upy_exc_format(NULL, text, sizeof text);
            printf("%s: %s\n", argv[1], text);
        } else {
            printf("%s: ok\n", argv[1]);
        }
        return 0;
    }
    fprintf(stderr, "netns_probe: unknown case '%s'\n", argv[1]);
    return 2;
}
