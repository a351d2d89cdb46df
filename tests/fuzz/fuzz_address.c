/*
 * Address strings, as getaddrinfo, connect, bind and sendto take them, under remap rules from the
 * same input: "RULES\nHOST:PORT" (no newline: no rules). In the sandbox nothing reaches DNS and
 * every host endpoint must be on loopback; a refusal must be an exception, never a crash.
 */
#include "fuzz.h"
#include "internal.h"
#include "vnet.h"
#include <upysock/upy.h>
#include <upysock/usocket.h>

static void split(char *text, char **rules, char **host, int *port)
{
    char *nl = strchr(text, '\n');
    *rules = nl ? text : NULL;
    *host = nl ? nl + 1 : text;
    if (nl)
        *nl = '\0';
    char *colon = strrchr(*host, ':');
    *port = colon ? atoi(colon + 1) : 80;
    if (colon)
        *colon = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_string(data, size), *rules, *host;
    int port;
    split(text, &rules, &host, &port);
    if (rules && upy_config_remap(rules) < 0)
        rules = NULL;

    usocket_addrinfo ai;
    if (usocket_getaddrinfo(host, port, &ai) == 1) /* a device address: the mapping comes next */
        FUZZ_CHECK(memchr(ai.sockaddr.ip, '\0', sizeof ai.sockaddr.ip) != NULL);
    else
        FUZZ_CHECK(upy_exc_current()->type != UPY_EXC_NONE);

    usocket_addr to = {.port = port};
    snprintf(to.ip, sizeof to.ip, "%s", host); /* the tuple's host, as the C API holds it */
    host_addr out;
    int rc = vnet_map_out(&to, &out, NULL);
    if (rc == 0) {
        FUZZ_CHECK(out.ip >> 24 == 127); /* the sandbox: loopback only, a wildcard bind too */
        usocket_addr back;
        vnet_map_in(out, &back);
        FUZZ_CHECK(memchr(back.ip, '\0', sizeof back.ip) != NULL);
    } else {
        upy__raise(rc); /* a code, which the public calls raise */
        FUZZ_CHECK(upy_exc_current()->type != UPY_EXC_NONE);
    }
    if (rules)
        upy_config_remap("");
    free(text);
    return 0;
}
