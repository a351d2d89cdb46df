/*
 * Tutorial 2, "Using a client with non-blocking sockets" (Pycom socket tutorial), in C with
 * upysock. Line for line with the Python, the address unchanged: ("192.168.0.234", 6543) goes
 * through the virtual LAN onto loopback (UPYSOCK_REMAP picks the port).
 *
 * One addition: on the board, once both sockets are closed, the poll thread goes on polling
 * forever (nothing is ever reported again). So that this program can end, the thread stops when
 * both of its sockets are closed (docs/porting.md).
 */
#include <stdio.h>

#include <upysock/uerrno.h>
#include <upysock/upy.h>
#include <upysock/uselect.h>
#include <upysock/usocket.h>
#include <upysock/uthread.h>

// The thread's argument: Python passes (p,); the C thread also needs the sockets to know when
// both are closed.
struct thread_args {
    uselect_poller *p;
    usocket **socket_list;
    int count;
};

static bool all_closed(usocket **socket_list, int count)
{
    for (int i = 0; i < count; i++)
        if (usocket_fileno(socket_list[i]) != -1)
            return false;
    return true;
}

static int socket_thread(void *arg)
{
    struct thread_args *args = arg;
    uselect_poller *p = args->p;

    while (!all_closed(args->socket_list, args->count)) {
        // Wait for any action to happen infinitely
        uselect_event l[2];
        int n = uselect_poll_poll(p, -1, 0, l, 2);
        if (n < 0)
            return -1;

        // Start processing the actions happened
        for (int t = 0; t < n; t++) {
            // First element of the returned tuple is the socket itself
            usocket *sock = l[t].obj;
            // Second element of the returned tuple is the events happened
            int event = l[t].revents;

            // If any error or connection drop happened close the socket
            if (event & USELECT_POLLERR || event & USELECT_POLLHUP) {
                usocket_close(sock);
                continue;
            }

            // If the socket is writable then send some data
            // The socket becomes writable if the connect() was successfull
            if (event & USELECT_POLLOUT) {
                // If any error occurs during sending here, do "nothing", poll() will return with error event, close the socket there
                if (usocket_send_str(sock, "Data to send") >= 0)
                    // We only want to send one message on this socket, in the future wait only for new incoming messages
                    uselect_poll_modify(p, sock, USELECT_POLLIN | USELECT_POLLHUP | USELECT_POLLERR);
            }

            // If any new data is received then get it
            if (event & USELECT_POLLIN) {
                // If any error occurs during receiving here, do "nothing", poll() will return with error event, close the socket there
                char r[1];
                ssize_t len = usocket_recv(sock, r, sizeof r);
                // If recv() returns with 0 the other end closed the connection
                if (len == 0) {
                    usocket_close(sock);
                    continue;
                } else if (len > 0) {
                    // Do something with the received data...
                    char repr[16];
                    upy_bytes_repr(r, (size_t)len, repr, sizeof repr);
                    printf("Data received: %s\n", repr);
                }
            }
        }
    }
    return 0;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);

    // List for storing our sockets
    usocket *socket_list[2];

    // Set up the first socket in non-blocking mode
    usocket *s1 = usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_STREAM, USOCKET_IPPROTO_TCP);
    if (!s1 || usocket_setblocking(s1, false) < 0)
        goto raise;
    socket_list[0] = s1;
    // Set up the second socket in non-blocking mode
    usocket *s2 = usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_STREAM, USOCKET_IPPROTO_TCP);
    if (!s2 || usocket_setblocking(s2, false) < 0)
        goto raise;
    socket_list[1] = s2;

    // Create a new poll object
    uselect_poller *p = uselect_poll();
    if (!p)
        goto raise;
    // Register the sockets into the poll object, wait for all kind of events
    if (uselect_poll_register(p, s1, USELECT_POLLIN | USELECT_POLLOUT | USELECT_POLLHUP | USELECT_POLLERR) < 0 ||
        uselect_poll_register(p, s2, USELECT_POLLIN | USELECT_POLLOUT | USELECT_POLLHUP | USELECT_POLLERR) < 0)
        goto raise;

    // Try to connect to the server with each sockets
    for (int i = 0; i < 2; i++) {
        usocket *s = socket_list[i];
        usocket_addrinfo ai;
        if (usocket_getaddrinfo("192.168.0.234", 6543, &ai) < 0 || usocket_connect(s, &ai.sockaddr) < 0) {
            // In case of non-blocking socket the connect() raises eception of EINPROGRESS what is expected
            if (!upy_exc_is_errno(UERRNO_EINPROGRESS))
                // Raise all other errors
                goto raise;
        }
    }

    // Start the thread which takes care of the non-blocking sockets through the created poll object
    struct thread_args args = {p, socket_list, 2};
    if (uthread_start_new_thread(socket_thread, &args) < 0)
        goto raise;

    // The board's script ends here and the thread goes on; C's main() would end the process.
    int rc = uthread_wait_all(-1) < 0 ? 1 : 0;
    // Python's garbage collector frees these; C says so.
    uselect_poll_free(p);
    usocket_release(s1);
    usocket_release(s2);
    return rc;

raise:
    upy_exc_print(stderr);
    return 1;
}
