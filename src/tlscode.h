/*
 * The board's numbers for what the host's TLS layer reports (host/tls.h): the mbedTLS 2.16 code
 * raised for each outcome, and the x509 flag word for certificate problems. One table each, in
 * tlscode.c, with the source of every row.
 */
#ifndef UPYSOCK_TLSCODE_H
#define UPYSOCK_TLSCODE_H

/* The negative mbedTLS code for a negative host outcome (enum tls_outcome); anything >= 0 (a byte
 * count) is returned as it is. */
int tlscode_of(int outcome);

/* mbedtls_x509_crt_verify's flag word for host problem bits (enum tls_problem). */
unsigned tlscode_flags(unsigned problems);

#endif
