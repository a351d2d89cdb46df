/* The error convention: exceptions render exactly as the device prints them; bytes repr. */
#include <pthread.h>
#include <string.h>

#include "internal.h"
#include "testutil.h"

static const char *render(upy_exc_type type, int code, const char *message)
{
    upy_raise(type, code, message);
    return tu_exc_text();
}

static void test_oserror_with_listed_errno_prints_name(void **state)
{
    (void)state;
    assert_string_equal(render(UPY_EXC_OSERROR, 119, NULL), "OSError: [Errno 119] EINPROGRESS");
    assert_string_equal(render(UPY_EXC_OSERROR, 104, NULL), "OSError: [Errno 104] ECONNRESET");
    assert_string_equal(render(UPY_EXC_OSERROR, 113, NULL), "OSError: [Errno 113] ECONNABORTED");
    assert_string_equal(render(UPY_EXC_OSERROR, 202, NULL), "OSError: [Errno 202] EAI_FAIL");
    assert_string_equal(render(UPY_EXC_OSERROR, -26624, NULL), "OSError: [Errno -26624] MBEDTLS_ERR_SSL_TIMEOUT");
    /* -1 is lwIP's ERR_MEM in uerrno: the device prints ERR_IF's -1 that way too. */
    assert_string_equal(render(UPY_EXC_OSERROR, -1, NULL), "OSError: [Errno -1] ERR_MEM");
}

static void test_oserror_with_unlisted_number_prints_bare(void **state)
{
    (void)state;
    assert_string_equal(render(UPY_EXC_OSERROR, 32, NULL), "OSError: 32");
    assert_string_equal(render(UPY_EXC_OSERROR, 127, NULL), "OSError: 127");     /* EISCONN */
    assert_string_equal(render(UPY_EXC_OSERROR, 23, NULL), "OSError: 23");       /* ENFILE */
    assert_string_equal(render(UPY_EXC_OSERROR, -9984, NULL), "OSError: -9984"); /* X509 verify */
    assert_string_equal(render(UPY_EXC_OSERROR, 0, NULL), "OSError: 0");
}

static void test_text_exceptions(void **state)
{
    (void)state;
    assert_string_equal(render(UPY_EXC_OSERROR, 0, "CA file not found"), "OSError: CA file not found");
    assert_string_equal(render(UPY_EXC_VALUEERROR, 0, "invalid arguments"), "ValueError: invalid arguments");
    upy_raise(UPY_EXC_TIMEOUTERROR, 0, "timed out");
    assert_string_equal(tu_exc_text(), "TimeoutError: timed out");
    /* No args: the type, a colon and a space (RuntimeError from lock.release()). */
    assert_string_equal(render(UPY_EXC_RUNTIMEERROR, 0, ""), "RuntimeError: ");
}

static void test_errno_helpers(void **state)
{
    (void)state;
    upy_raise(UPY_EXC_OSERROR, 119, NULL);
    assert_true(upy_exc_is_errno(UERRNO_EINPROGRESS));
    assert_false(upy_exc_is_errno(UERRNO_EALREADY));
    upy_raise(UPY_EXC_TIMEOUTERROR, 0, "timed out");
    /* TimeoutError is an OSError (and ssl.SSLError is OSError), but its args[0] is text. */
    assert_true(upy_exc_isinstance(upy_exc_current(), UPY_EXC_OSERROR));
    assert_false(upy_exc_isinstance(upy_exc_current(), UPY_EXC_VALUEERROR));
    assert_false(upy_exc_is_errno(0));
    upy_exc_clear();
    assert_int_equal(upy_exc_current()->type, UPY_EXC_NONE);
}

/* Inside the library failures are codes; the public entry point raises them (internal.h). */
static void test_internal_codes_raise_as_the_board_does(void **state)
{
    (void)state;
    assert_int_equal(upy__raise(-UERRNO_ECONNRESET), -1);
    assert_string_equal(tu_exc_text(), "OSError: [Errno 104] ECONNRESET");
    upy__raise(UPY__OS(UERRNO_MBEDTLS_ERR_SSL_TIMEOUT));
    assert_true(upy_exc_is_errno(UERRNO_MBEDTLS_ERR_SSL_TIMEOUT));
    upy__raise(UPY__OS(-1)); /* wrap_socket's failed verification */
    assert_true(upy_exc_is_errno(-1));
    upy__raise(UPY__OS(0)); /* send(b'') before any error */
    assert_true(upy_exc_is_errno(0));
    upy__raise(UPY__E_TIMEOUT);
    assert_string_equal(tu_exc_text(), "TimeoutError: timed out");
    upy__raise(UPY__E_NOT_HELD);
    assert_string_equal(tu_exc_text(), "RuntimeError: ");
    upy__raise(UPY__E_CA_MISSING);
    assert_string_equal(tu_exc_text(), "OSError: CA file not found");
    upy__raise(UPY__E_LAYER_TIMEOUT); /* the stream calls' report of the TLS read timeout */
    assert_true(upy_exc_is_errno(UERRNO_MBEDTLS_ERR_SSL_TIMEOUT));
    /* The fixed codes lie below every OSError code, so none can be taken for one. */
    assert_true(UPY__E_WOULD_BLOCK < -2 * UPY__OS_LIMIT && UPY__E_NOT_HELD < -2 * UPY__OS_LIMIT);
    assert_true(UPY__OS(-0x7fff) >= -2 * UPY__OS_LIMIT);
}

static void *raise_timeout(void *unused)
{
    (void)unused;
    upy_raise(UPY_EXC_TIMEOUTERROR, 0, "timed out");
    return NULL;
}

static void test_exceptions_are_per_thread(void **state)
{
    (void)state;
    upy_raise(UPY_EXC_OSERROR, 104, NULL);
    /* A raise in another thread does not touch this thread's exception. */
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, raise_timeout, NULL), 0);
    pthread_join(t, NULL);
    assert_oserror(104);
}

static const char *repr(const char *data, size_t len)
{
    static char out[128];
    upy_bytes_repr(data, len, out, sizeof out);
    return out;
}

static void test_bytes_repr_matches_python(void **state)
{
    (void)state;
    assert_string_equal(repr("Data to send", 12), "b'Data to send'");
    assert_string_equal(repr("", 0), "b''");
    assert_string_equal(repr("a\nb\tc\r\0\x7f\xff", 9), "b'a\\nb\\tc\\r\\x00\\x7f\\xff'");
    assert_string_equal(repr("it's", 4), "b\"it's\"");
    assert_string_equal(repr("'\"", 2), "b'\\'\"'");
    assert_string_equal(repr("\\", 1), "b'\\\\'");
}

static void test_bytes_repr_truncates_safely(void **state)
{
    (void)state;
    char small[6];
    size_t need = upy_bytes_repr("Data to send", 12, small, sizeof small);
    assert_int_equal(need, strlen("b'Data to send'"));
    assert_string_equal(small, "b'Dat");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oserror_with_listed_errno_prints_name),
        cmocka_unit_test(test_oserror_with_unlisted_number_prints_bare),
        cmocka_unit_test(test_text_exceptions),
        cmocka_unit_test(test_errno_helpers),
        cmocka_unit_test(test_internal_codes_raise_as_the_board_does),
        cmocka_unit_test(test_exceptions_are_per_thread),
        cmocka_unit_test(test_bytes_repr_matches_python),
        cmocka_unit_test(test_bytes_repr_truncates_safely),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
