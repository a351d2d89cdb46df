/*
 * Tutorial 3, "Connecting to a server with non-blocking SSL wrapped socket" (Pycom socket
 * tutorial), in C with upysock. Line for line with the Python; the address and the certificate
 * paths are the tutorial's own: ("192.168.0.234", 6543) goes through the virtual LAN onto
 * loopback (UPYSOCK_REMAP picks the port), /flash/cert/... is read from UPYSOCK_FLASH.
 *
 * What happens depends on the firmware (UPYSOCK_PROFILE, docs/ssl.md):
 *  pycom-1.20.2 (default) — setblocking(False) on the SSL socket only sets its read timeout, so
 *    connect() connects and shakes hands before it returns, and do_handshake() in the thread
 *    returns at once;
 *  pycom-1.20.0 — the socket really is non-blocking: connect() raises EINPROGRESS and the thread's
 *    do_handshake() drives the handshake, retrying on SSL_TIMEOUT.
 *
 * Two departures from the Python, both forced:
 *  - The tutorial starts the thread with `(p)`, which is not a tuple: on the board that line raises
 *    TypeError and the thread never runs. C has no tuples; the thread gets its poll object (and
 *    the socket, for the next point) as the Python author meant with (p,).
 *  - On the board the thread polls forever once its socket is closed. So that this program can
 *    end, the thread stops when its socket is closed (as examples/tutorial_client.c does).
 */
#include <stdio.h>

#include <upysock/uerrno.h>
#include <upysock/upy.h>
#include <upysock/uselect.h>
#include <upysock/usocket.h>
#include <upysock/ussl.h>
#include <upysock/uthread.h>
#include <upysock/utime.h>

// Helper function for doing the handshake
static int handshake_helper(usocket *sock)
{
    while (1) {
        utime_sleep_ms(1);
        // Perform the handshake
        if (ussl_do_handshake(sock) == 0)
            return 0;
        // For now raise any other errors then TIMEOUT...
        if (!upy_exc_is_errno(USSL_SSL_TIMEOUT))
            return -1;
    }
}

struct thread_args {
    uselect_poller *p;
    usocket *ssl_socket; // only to know when to stop (see the top of the file)
};

static int socket_thread(void *arg)
{
    struct thread_args *args = arg;
    uselect_poller *p = args->p;

    while (usocket_fileno(args->ssl_socket) != -1) {
        // Wait for any action to happen infinitely
        uselect_event l[1];
        int n = uselect_poll_poll(p, -1, 0, l, 1);
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
                uselect_poll_unregister(p, sock);
                usocket_close(sock);
            }

            // If any new data is received then get it
            else if (event & USELECT_POLLIN) {
                // If any error occurs during receiving here, do "nothing", poll() will return with error event, close the socket there
                char r[1];
                ssize_t len = usocket_recv(sock, r, sizeof r);
                // If recv() returns with 0 the other end closed the connection
                if (len == 0) {
                    uselect_poll_unregister(p, sock);
                    usocket_close(sock);
                } else if (len > 0) {
                    // Do something with the received data...
                    char repr[16];
                    upy_bytes_repr(r, (size_t)len, repr, sizeof repr);
                    printf("Data received: %s\n", repr);
                }
            }

            // If the socket is writable then we may expect it is connected, do handshake and send some data
            else if (event & USELECT_POLLOUT) {

                // Performing the SSL handshake
                if (handshake_helper(sock) < 0) {
                    // An error happened, close the socket, unregister it from poll
                    uselect_poll_unregister(p, sock);
                    usocket_close(sock);
                }

                // If any error occurs during sending here, do "nothing", poll() will return with error event, close the socket there
                if (usocket_send_str(sock, "Data to send") >= 0)
                    // We only want to send one message on this socket, in the future wait only for new incoming messages
                    uselect_poll_modify(p, sock, USELECT_POLLIN | USELECT_POLLHUP | USELECT_POLLERR);
            }
        }
    }
    return 0;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0); // the board's REPL prints each line as it comes
    usocket *s = NULL, *ssl_socket = NULL;
    uselect_poller *p = NULL;
    int rc = 1;

    // Create and wrap the socket
    s = usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_STREAM, USOCKET_IPPROTO_TCP);
    if (!s)
        goto raise;
    ssl_socket = ussl_wrap_socket(s, &(ussl_options){.keyfile = "/flash/cert/my_private_key.pem",
                                                     .certfile = "/flash/cert/my_public_key.pem",
                                                     .server_side = false,
                                                     .cert_reqs = USSL_CERT_REQUIRED,
                                                     .ca_certs = "/flash/cert/my_CA_cert.pem"});
    if (!ssl_socket)
        goto raise;
    // Set the wrapped socket to non-blocking
    if (usocket_setblocking(ssl_socket, false) < 0)
        goto raise;
    // Create a new poll object
    p = uselect_poll();
    if (!p)
        goto raise;
    // Register the wrapped socket into the poll object, wait only for write and error events
    if (uselect_poll_register(p, ssl_socket, USELECT_POLLOUT | USELECT_POLLHUP | USELECT_POLLERR) < 0)
        goto raise;

    // Try to connect to the server
    usocket_addrinfo ai;
    if (usocket_getaddrinfo("192.168.0.234", 6543, &ai) < 0 || usocket_connect(ssl_socket, &ai.sockaddr) < 0) {
        // In case of non-blocking socket the connect() raises eception of EINPROGRESS what is expected
        if (!upy_exc_is_errno(UERRNO_EINPROGRESS))
            // Raise all other errors
            goto raise;
    }

    // Start the thread which takes care of the non-blocking socket through the created poll object
    // (the tutorial's `(p)` is a TypeError on the board: see the top of the file)
    struct thread_args args = {p, ssl_socket};
    if (uthread_start_new_thread(socket_thread, &args) < 0)
        goto raise;

    // The board's script ends here and the thread goes on; C's main() would end the process.
    rc = uthread_wait_all(-1) < 0 ? 1 : 0;
    goto collect;

raise:
    upy_exc_print(stderr);
collect:
    // Python's garbage collector frees these; C says so.
    uselect_poll_free(p);
    usocket_release(ssl_socket);
    usocket_release(s);
    return rc;
}
