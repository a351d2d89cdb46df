/*
 * The peer of tutorial 3 (examples/tutorial_ssl_client.c): tutorial 1's threaded server, with
 * TLS. It listens where tutorial 3 dials, ("192.168.0.234", 6543) on the virtual LAN, wraps each
 * accepted connection server side (the socket is connected, so the handshake runs inside
 * wrap_socket), requires a client certificate signed by its CA, and echoes the client's message.
 *
 * The echo goes out one byte per TLS record. Tutorial 3 reads one byte per POLLIN, and on the
 * board poll does not see bytes already decrypted inside the TLS layer (docs/ssl.md): a reply in
 * one record would leave all but its first byte unseen until the connection closed.
 *
 * Files, from UPYSOCK_FLASH (tests/fixtures/make-certs.sh writes them):
 *   /flash/cert/server.pem, server.key   the server's certificate and key
 *   /flash/cert/ca.pem                    the CA that signs the clients' certificates
 * Runs until SIGINT or SIGTERM, like the board's script runs until reset.
 */
#include <stdio.h>
#include <stdlib.h>

#include <upysock/upy.h>
#include <upysock/usocket.h>
#include <upysock/ussl.h>
#include <upysock/uthread.h>

// Thread for handling a client
static int client_thread(void *arg)
{
    usocket *clientsocket = arg;

    // TLS on the accepted socket: the handshake happens here, and the client must show a
    // certificate our CA signed (a failure ends this thread with the exception printed)
    usocket *ssl_socket = ussl_wrap_socket(clientsocket, &(ussl_options){.keyfile = "/flash/cert/server.key",
                                                                         .certfile = "/flash/cert/server.pem",
                                                                         .server_side = true,
                                                                         .cert_reqs = USSL_CERT_REQUIRED,
                                                                         .ca_certs = "/flash/cert/ca.pem"});
    ssize_t len = -1;
    if (ssl_socket) {
        // Receive maximum of 12 bytes from the client
        char r[12];
        len = usocket_recv(ssl_socket, r, sizeof r);
        if (len > 0) {
            char repr[64];
            upy_bytes_repr(r, (size_t)len, repr, sizeof repr);
            printf("Received: %s\n", repr);
            // Send it back, one byte per TLS record
            for (ssize_t i = 0; i < len; i++)
                if (usocket_send(ssl_socket, r + i, 1) != 1) {
                    len = -1;
                    break;
                }
        }
        // close_notify, then the connection
        usocket_close(ssl_socket);
        usocket_release(ssl_socket);
    }
    usocket_close(clientsocket);
    usocket_release(clientsocket);
    return len < 0 ? -1 : 0;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);

    // Set up server socket
    usocket *serversocket = usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_STREAM, USOCKET_IPPROTO_TCP);
    if (!serversocket || usocket_bind(serversocket, &(usocket_addr){"192.168.0.234", 6543}) < 0 ||
        usocket_listen(serversocket, 5) < 0) {
        upy_exc_print(stderr);
        return 1;
    }

    while (1) {
        // Accept the connection of the clients
        usocket *clientsocket = usocket_accept(serversocket, NULL);
        if (!clientsocket) {
            upy_exc_print(stderr);
            return 1;
        }
        // Start a new thread to handle the client
        if (uthread_start_new_thread(client_thread, clientsocket) < 0) {
            upy_exc_print(stderr);
            return 1;
        }
    }
}
