/*
 * The TLS fixture: a CA and a server certificate it signs, both ECDSA P-256, made with the
 * OpenSSL API into a fresh temp directory at run time (never committed) and removed at exit;
 * and the OpenSSL defaults both sides run with.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "bench.h"

struct tls_fixture tls_fx;

/* Process-wide OpenSSL defaults, loaded before any other OpenSSL call: every SSL_CTX made in
 * this process -- the raw side's and the ones upysock makes inside wrap_socket -- starts from
 * them, so both sides negotiate the same suite, group and version without upysock needing an
 * option the device does not have. The raw side also sets them explicitly (raw_tls_ctx). */
static const char openssl_conf[] =
    "openssl_conf = bench_conf\n"
    "[bench_conf]\n"
    "ssl_conf = bench_ssl\n"
    "[bench_ssl]\n"
    "system_default = bench_tls\n"
    "[bench_tls]\n"
    "MinProtocol = TLSv1.2\n"
    "MaxProtocol = TLSv1.2\n"
    "CipherString = " BENCH_TLS_CIPHER "\n"
    "Groups = " BENCH_TLS_GROUP "\n"
    "Options = -SessionTicket\n";

static bool load_openssl_conf(void)
{
    FILE *f = fopen(tls_fx.conf, "w");
    bool ok = f && fputs(openssl_conf, f) >= 0;
    if (f && fclose(f) != 0)
        ok = false;
    OPENSSL_INIT_SETTINGS *settings = ok ? OPENSSL_INIT_new() : NULL;
    ok = settings && OPENSSL_INIT_set_config_filename(settings, tls_fx.conf) &&
         OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, settings);
    OPENSSL_INIT_free(settings);
    return ok;
}

static bool add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    bool ok = ext && X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

/* A certificate for `key` named `cn`, signed by issuer_key (issuer NULL: self-signed). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, bool ca)
{
    X509 *cert = X509_new();
    X509_NAME *name = X509_NAME_new();
    bool ok = cert && name && X509_set_version(cert, 2) &&
              ASN1_INTEGER_set(X509_get_serialNumber(cert), ca ? 1 : 2) &&
              X509_gmtime_adj(X509_getm_notBefore(cert), -3600) &&
              X509_gmtime_adj(X509_getm_notAfter(cert), 7L * 24 * 3600) && X509_set_pubkey(cert, key) &&
              X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) &&
              X509_set_subject_name(cert, name) &&
              X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
    X509 *self = issuer ? issuer : cert;
    ok = ok && add_ext(cert, self, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE") &&
         add_ext(cert, self, NID_key_usage, ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature") &&
         (ca || add_ext(cert, self, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1")) &&
         X509_sign(cert, issuer_key, EVP_sha256()) > 0;
    X509_NAME_free(name);
    if (!ok) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

static bool write_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
    FILE *f = fopen(path, "w");
    bool ok = f && (cert ? PEM_write_X509(f, cert) : PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL));
    if (f && fclose(f) != 0)
        ok = false;
    return ok;
}

static void remove_fixture(void)
{
    unlink(tls_fx.conf);
    unlink(tls_fx.ca);
    unlink(tls_fx.cert);
    unlink(tls_fx.key);
    rmdir(tls_fx.dir);
}

static int fixture_make(void);

int tls_fixture_init(void)
{
    static int status = 1; /* not made yet */
    if (status == 1)
        status = fixture_make();
    return status;
}

static int fixture_make(void)
{
    snprintf(tls_fx.dir, sizeof tls_fx.dir, "%s/upysock-bench-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (strlen(tls_fx.dir) + 16 > sizeof tls_fx.ca || !mkdtemp(tls_fx.dir)) {
        bench_error("cannot make a temp directory for the certificates");
        tls_fx.dir[0] = '\0';
        return -1;
    }
    snprintf(tls_fx.ca, sizeof tls_fx.ca, "%s/ca.pem", tls_fx.dir);
    snprintf(tls_fx.cert, sizeof tls_fx.cert, "%s/cert.pem", tls_fx.dir);
    snprintf(tls_fx.key, sizeof tls_fx.key, "%s/key.pem", tls_fx.dir);
    snprintf(tls_fx.conf, sizeof tls_fx.conf, "%s/openssl.cnf", tls_fx.dir);
    atexit(remove_fixture);
    if (!load_openssl_conf()) {
        bench_error("cannot load the benchmark's OpenSSL defaults (%s)", tls_fx.conf);
        return -1;
    }
    EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *key = EVP_EC_gen("P-256");
    X509 *ca = ca_key ? make_cert(ca_key, "upysock-bench CA", NULL, ca_key, true) : NULL;
    X509 *cert = ca && key ? make_cert(key, "localhost", ca, ca_key, false) : NULL;
    bool ok = cert && write_pem(tls_fx.ca, ca, NULL) && write_pem(tls_fx.cert, cert, NULL) &&
              write_pem(tls_fx.key, NULL, key);
    X509_free(cert);
    X509_free(ca);
    EVP_PKEY_free(key);
    EVP_PKEY_free(ca_key);
    if (!ok)
        bench_error("cannot generate the TLS certificates");
    return ok ? 0 : -1;
}
