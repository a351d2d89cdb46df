/*
 * The two formatters that print whatever a program hands them: upy_bytes_repr (any bytes) and
 * upy_exc_format (any exception a program may raise with upy_raise). Both are snprintf-style:
 * the result is the full length, and the buffer holds a NUL-terminated prefix of the full text
 * whatever its size. The first byte picks the buffer size (0..255).
 */
#include "fuzz.h"
#include <upysock/upy.h>

/* buf (of `size`) holds the first bytes of full (of length n), NUL-terminated. */
static void check_prefix(const char *buf, size_t size, const char *full, size_t n)
{
    FUZZ_CHECK(strlen(full) == n);
    if (size == 0)
        return;
    size_t kept = n < size ? n : size - 1;
    FUZZ_CHECK(strlen(buf) == kept && memcmp(buf, full, kept) == 0);
}

static void repr(const uint8_t *data, size_t size, size_t bufsize)
{
    size_t n = upy_bytes_repr(data, size, NULL, 0);
    char *full = malloc(n + 1), *buf = malloc(bufsize + 1);
    FUZZ_CHECK(full && buf);
    FUZZ_CHECK(upy_bytes_repr(data, size, full, n + 1) == n);
    FUZZ_CHECK(upy_bytes_repr(data, size, buf, bufsize) == n);
    check_prefix(buf, bufsize, full, n);
    free(full);
    free(buf);
}

/* An exception from the input: type, numeric or text args[0]. */
static void exc(const uint8_t *data, size_t size, size_t bufsize)
{
    if (size < 5)
        return;
    upy_exc_type type = (upy_exc_type)(UPY_EXC_OSERROR + data[0] % UPY_EXC_RUNTIMEERROR);
    int code;
    memcpy(&code, data + 1, sizeof code);
    char *message = fuzz_string(data + 5, size - 5);
    upy_raise(type, code, data[0] & 0x80 ? message : NULL);
    free(message);
    char full[512], *buf = malloc(bufsize + 1);
    FUZZ_CHECK(buf);
    size_t n = upy_exc_format(NULL, full, sizeof full);
    FUZZ_CHECK(n < sizeof full);
    FUZZ_CHECK(upy_exc_format(NULL, buf, bufsize) == n);
    check_prefix(buf, bufsize, full, n);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    repr(data + 1, size - 1, data[0]);
    exc(data + 1, size - 1, data[0]);
    return 0;
}
