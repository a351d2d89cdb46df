/*
 * Helper for the configuration tests: the library reads UPYSOCK_* once per process, so each
 * environment case runs here, in a fresh process. Every argument is one step, run in order and
 * reported on its own line as "STEP: ok" or "STEP: <the exception as the device prints it>":
 *
 *   check                  upy_config_check()
 *   socket                 usocket_socket(AF_INET, SOCK_STREAM, IPPROTO_TCP)
 *   profile                the active profile's name and limits
 *   map=PATH               upy_config_map_path(PATH)
 *   resolve=HOST           usocket_getaddrinfo(HOST, 6543)
 *   profile=NAME remap=RULES net=MODE flash=DIR log=FD max_sockets=N faults=RULES
 *                          the upy_config_* calls
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <upysock/upy.h>
#include <upysock/usocket.h>

static int open_socket(void)
{
    usocket *s = usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_STREAM, USOCKET_IPPROTO_TCP);
    usocket_release(s);
    return s ? 0 : -1;
}

static int show_profile(void)
{
    const upy_profile *p = upy_profile_current();
    printf("profile: %s max_sockets=%d recv_cap=%d tcp_sndbuf=%d backlog_max=%d tls_setblocking_sets_fd=%d "
           "tls_read_timeout_ms=%d\n", p->name, p->max_sockets, p->recv_cap, p->tcp_sndbuf, p->backlog_max,
           p->tls_setblocking_sets_fd, p->tls_read_timeout_ms);
    return 1; /* printed its own line */
}

static int map(const char *path)
{
    char out[4096];
    upy_config_map_path(path, out, sizeof out);
    printf("map: %s\n", out);
    return 1;
}

static int resolve(const char *host)
{
    usocket_addrinfo ai;
    if (usocket_getaddrinfo(host, 6543, &ai) < 0)
        return -1;
    printf("resolve: ('%s', %d)\n", ai.sockaddr.ip, ai.sockaddr.port);
    return 1;
}

/* 0 ok, 1 printed, -1 raised. */
static int step(const char *arg)
{
    const char *eq = strchr(arg, '=');
    const char *value = eq ? eq + 1 : "";
    size_t key = eq ? (size_t)(eq - arg) : strlen(arg);
#define IS(name) (key == strlen(name) && strncmp(arg, name, key) == 0)
    if (IS("check"))
        return upy_config_check();
    if (IS("socket"))
        return open_socket();
    if (IS("profile"))
        return eq ? upy_config_profile(value) : show_profile();
    if (IS("map"))
        return map(value);
    if (IS("resolve"))
        return resolve(value);
    if (IS("remap"))
        return upy_config_remap(value);
    if (IS("faults"))
        return upy_config_faults(value);
    if (IS("net"))
        return upy_config_net(value);
    if (IS("flash"))
        return upy_config_flash(value);
    if (IS("log"))
        return upy_config_log(atoi(value));
    if (IS("max_sockets"))
        return upy_config_limit(UPY_LIMIT_MAX_SOCKETS, atol(value));
#undef IS
    fprintf(stderr, "env_probe: unknown step '%s'\n", arg);
    exit(2);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        int rc = step(argv[i]);
        if (rc == 0) {
            printf("%s: ok\n", argv[i]);
        } else if (rc < 0) {
            char text[256];
            upy_exc_format(NULL, text, sizeof text);
            printf("%s: %s\n", argv[i], text);
        }
    }
    return 0;
}
