/*
 * The configuration parsers, through the calls a program makes: the first byte picks the
 * setting (R UPYSOCK_REMAP, L UPYSOCK_LIMITS, P UPYSOCK_PROFILE, N UPYSOCK_NET, F UPYSOCK_FLASH,
 * G UPYSOCK_LOG), the rest is its text. A failure must be ValueError (a message, no number);
 * nothing may read past the text. UPYSOCK_LIMITS and UPYSOCK_LOG have no string call, so their
 * parsers (the ones the environment goes through) are called directly; UPYSOCK_LOG only in its
 * stderr and fd:N forms, as its path form creates files.
 */
#include "config.h"
#include "fuzz.h"
#include <upysock/upy.h>

static void check(int rc)
{
    if (rc == 0)
        return;
    FUZZ_CHECK(rc == -1);
    FUZZ_CHECK(upy_exc_current()->type == UPY_EXC_VALUEERROR);
    FUZZ_CHECK(!upy_exc_current()->has_code && upy_exc_current()->message[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    char *text = fuzz_string(data + 1, size - 1), err[UPY_EXC_MESSAGE_MAX], path[256];
    switch (data[0]) {
    case 'R':
        check(upy_config_remap(text));
        upy_config_remap(""); /* the next input starts without rules */
        break;
    case 'L':
        if (profile_set_limits(text, err, sizeof err) < 0)
            FUZZ_CHECK(err[0] && memchr(err, '\0', sizeof err));
        break;
    case 'P': check(upy_config_profile(text)); break;
    case 'G':
        if (strncmp(text, "fd:", 3) == 0 || strcmp(text, "stderr") == 0) {
            if (vnet_set_log(text, err, sizeof err) < 0)
                FUZZ_CHECK(err[0] && memchr(err, '\0', sizeof err));
            vnet_set_log_fd(-1);
        }
        break;
    case 'N':
        check(upy_config_net(text));
        upy_config_net("sandbox"); /* never leave a harness able to dial out */
        break;
    case 'F':
        if (upy_config_flash(text) == 0) {
            size_t n = upy_config_map_path("/flash/cert/ca.pem", path, sizeof path);
            FUZZ_CHECK(strlen(path) == (n < sizeof path ? n : sizeof path - 1));
        }
        break;
    default: break;
    }
    upy_config_profile("pycom-1.20.2"); /* also drops the limits */
    free(text);
    return 0;
}
