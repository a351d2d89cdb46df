/*
 * A firmware author's first program against an installed upysock: the tutorial's server address
 * through getaddrinfo, a listening socket on the virtual LAN (the loopback sandbox) with the
 * board's fileno, and an exception printed the way the board prints it.
 */
#include <stdio.h>

#include <upysock/upy.h>
#include <upysock/usocket.h>

static int fail(void)
{
    upy_exc_print(stdout);
    return 1;
}

int main(void)
{
    printf("upysock %s, profile %s\n", UPYSOCK_VERSION, upy_profile_current()->name);

    usocket_addrinfo ai;
    if (usocket_getaddrinfo("192.168.0.234", 6543, &ai) != 1)
        return fail();
    printf("getaddrinfo: [(%d, %d, %d, '%s', ('%s', %d))]\n", ai.family, ai.socktype, ai.proto, ai.canonname,
           ai.sockaddr.ip, ai.sockaddr.port);

    /* Port 0: any free port, so the program can run while something else holds 6543. */
    usocket_addr here = {"192.168.0.234", 0};
    usocket *s = usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_STREAM, USOCKET_IPPROTO_TCP);
    if (!s || usocket_bind(s, &here) < 0 || usocket_listen(s, 5) < 0)
        return fail();
    printf("listening, fileno %d\n", usocket_fileno(s));
    usocket_release(s);

    if (usocket_getaddrinfo("no.such.host", 80, &ai) < 0)
        upy_exc_print(stdout);
    return 0;
}
