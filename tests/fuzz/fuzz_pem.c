/*
 * PEM loading in wrap_socket. The input is written as a file in a private flash directory and
 * wrapped as the first byte says: C the CA file (CERT_REQUIRED), K the certificate and the key
 * (one file holding both). A file that does not load must raise the device's answer (a negative
 * mbedTLS code) and leave the plain socket open; nothing may crash or leak.
 */
#include <unistd.h>

#include "fuzz.h"
#include <upysock/upy.h>
#include <upysock/ussl.h>
#include <upysock/usocket.h>

static char flash[64], file[96];

static void remove_flash(void)
{
    unlink(file);
    rmdir(flash);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(flash, sizeof flash, "%s/upysock-fuzz-XXXXXX", tmp && *tmp && strlen(tmp) < 32 ? tmp : "/tmp");
    if (!mkdtemp(flash) || upy_config_flash(flash) < 0)
        abort();
    snprintf(file, sizeof file, "%s/f.pem", flash);
    atexit(remove_flash);
    return 0;
}

static void write_file(const uint8_t *data, size_t size)
{
    FILE *f = fopen(file, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || (data[0] != 'C' && data[0] != 'K'))
        return 0;
    write_file(data + 1, size - 1);
    ussl_options o = {0};
    if (data[0] == 'C')
        o.cert_reqs = USSL_CERT_REQUIRED, o.ca_certs = "/flash/f.pem";
    else
        o.certfile = o.keyfile = "/flash/f.pem";
    usocket *s = usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_STREAM, USOCKET_IPPROTO_TCP);
    FUZZ_CHECK(s != NULL);
    usocket *ss = ussl_wrap_socket(s, &o);
    if (ss) {
        usocket_release(ss);
    } else {
        const upy_exc *e = upy_exc_current();
        FUZZ_CHECK(e->type == UPY_EXC_OSERROR && e->has_code && e->code < 0);
        FUZZ_CHECK(usocket_fileno(s) >= 0);
    }
    usocket_release(s);
    return 0;
}
