/*
 * Testing an error path: a client of the tutorial 1 server (192.168.0.249:6543) whose connection
 * is reset before the answer arrives, as a broker's connection may be in the field. The rule is
 * set by the program here (upy_config_faults); UPYSOCK_FAULTS, or the runner's --faults for a .py
 * script, set the same rules from outside (docs/faults.md). What the client sees is the board's:
 *
 *   OSError: [Errno 104] ECONNRESET      recv, and every later recv: the error is sticky
 *   poll: 17                              POLLIN | POLLHUP, sticky too
 */
#include <stdio.h>

#include <upysock/upysock.h>

static void show_recv(usocket *s)
{
    char r[12];
    ssize_t n = usocket_recv(s, r, sizeof r);
    if (n < 0)
        upy_exc_print(stdout);
    else
        printf("received %zd bytes: no fault?\n", n);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    // The connection to port 6543 is reset before the first byte of the answer
    if (upy_config_faults("reset *:6543 after=0 dir=recv") < 0)
        goto raise;
    usocket *s = usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_STREAM, USOCKET_IPPROTO_TCP);
    if (!s || usocket_connect(s, &(usocket_addr){"192.168.0.249", 6543}) < 0 ||
        usocket_send_str(s, "Data to send") < 0)
        goto raise;
    show_recv(s);
    uselect_poller *p = uselect_poll();
    uselect_event ev[1];
    if (!p || uselect_poll_register(p, s, USELECT_POLLIN | USELECT_POLLHUP) < 0 ||
        uselect_poll_poll(p, 1000, 0, ev, 1) < 0)
        goto raise;
    printf("poll: %d\n", ev[0].revents);
    show_recv(s);
    uselect_poll_free(p);
    usocket_release(s);
    return 0;
raise:
    upy_exc_print(stderr);
    return 1;
}
