/*
 * The other side of tutorial 1: N clients (one after another, or all at once with -c) that each
 * connect to ("192.168.0.249", 6543), send "Data to send" and print the server's answer the way
 * the tutorial prints bytes. Uses upysock, so the address goes through the same virtual LAN.
 *
 *   tutorial_server_peer [-c] [N]     (N defaults to 3)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <upysock/upy.h>
#include <upysock/usocket.h>
#include <upysock/uthread.h>

static int one_client(void *unused)
{
    (void)unused;
    usocket *s = usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_STREAM, USOCKET_IPPROTO_TCP);
    if (!s)
        return -1;
    char reply[16];
    ssize_t n = -1;
    if (usocket_connect(s, &(usocket_addr){"192.168.0.249", 6543}) == 0 &&
        usocket_send_str(s, "Data to send") == 12)
        n = usocket_read(s, reply, sizeof reply); // until the server closes
    if (n >= 0) {
        char repr[64];
        upy_bytes_repr(reply, (size_t)n, repr, sizeof repr);
        printf("Data received: %s\n", repr);
    }
    usocket_release(s);
    return n < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    bool concurrent = argc > 1 && strcmp(argv[1], "-c") == 0;
    int count = argc > 1 + concurrent ? atoi(argv[1 + concurrent]) : 3;
    for (int i = 0; i < count; i++) {
        int rc = concurrent ? uthread_start_new_thread(one_client, NULL) : one_client(NULL);
        if (rc < 0) {
            upy_exc_print(stderr);
            return 1;
        }
    }
    return uthread_wait_all(10000) < 0 ? 1 : 0;
}
