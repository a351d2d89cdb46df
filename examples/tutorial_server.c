/*
 * Tutorial 1, "Setting up a server with blocking sockets" (Pycom socket tutorial), in C with
 * upysock. Line for line with the Python; the address is the tutorial's own: the virtual LAN maps
 * ("192.168.0.249", 6543) onto loopback (UPYSOCK_REMAP picks another port). Runs until SIGINT or
 * SIGTERM, like the board's script runs until reset.
 */
#include <stdio.h>
#include <stdlib.h>

#include <upysock/upy.h>
#include <upysock/usocket.h>
#include <upysock/uthread.h>

struct client_args {
    usocket *clientsocket;
    int n;
};

// Thread for handling a client
static int client_thread(void *arg)
{
    struct client_args *args = arg;
    usocket *clientsocket = args->clientsocket;
    int n = args->n;
    free(args);

    // Receive maxium of 12 bytes from the client
    char r[12];
    ssize_t len = usocket_recv(clientsocket, r, sizeof r);
    if (len < 0) {
        usocket_release(clientsocket); // the thread dies; Python's GC would close the socket
        return -1;
    }

    // If recv() returns with 0 the other end closed the connection
    if (len == 0) {
        usocket_close(clientsocket);
        usocket_release(clientsocket);
        return 0;
    } else {
        // Do something wth the received data...
        char repr[64];
        upy_bytes_repr(r, (size_t)len, repr, sizeof repr);
        printf("Received: %s\n", repr);
    }

    // Sends back some data
    char str_n[16];
    snprintf(str_n, sizeof str_n, "%d", n);
    ssize_t sent = usocket_send_str(clientsocket, str_n);

    // Close the socket and terminate the thread
    usocket_close(clientsocket);
    usocket_release(clientsocket); // Python drops the object here; C says so
    return sent < 0 ? -1 : 0;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0); // the board's REPL prints each line as it comes

    // Set up server socket
    usocket *serversocket = usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_STREAM, USOCKET_IPPROTO_TCP);
    if (!serversocket || usocket_setsockopt_int(serversocket, USOCKET_SOL_SOCKET, USOCKET_SO_REUSEADDR, 1) < 0 ||
        usocket_bind(serversocket, &(usocket_addr){"192.168.0.249", 6543}) < 0) {
        upy_exc_print(stderr);
        return 1;
    }

    // Accept maximum of 5 connections at the same time
    if (usocket_listen(serversocket, 5) < 0) {
        upy_exc_print(stderr);
        return 1;
    }

    // Unique data to send back
    int c = 0;
    while (1) {
        // Accept the connection of the clients
        usocket_addr address;
        usocket *clientsocket = usocket_accept(serversocket, &address);
        if (!clientsocket) {
            upy_exc_print(stderr); // the board's script dies here with a traceback
            return 1;
        }
        // Start a new thread to handle the client
        struct client_args *args = malloc(sizeof *args);
        if (!args)
            return 1;
        *args = (struct client_args){clientsocket, c};
        if (uthread_start_new_thread(client_thread, args) < 0) {
            upy_exc_print(stderr);
            return 1;
        }
        c = c + 1;
    }
}
