/* uerrno: the device's error table (docs/firmware-notes.md §1/§2) and the kernel → device
 * translation at the host border. */
#include <errno.h>
#include <string.h>

#include "host/host.h"
#include "internal.h"
#include "testutil.h"

/* The device's uerrno.errorcode, in firmware order, as docs/firmware-notes.md §1 lists it: an
 * oracle independent of the X-macro table in uerrno.h. */
static const struct {
    const char *name;
    int value;
} device_list[] = {
    {"EPERM", 1}, {"ENOENT", 2}, {"EIO", 5}, {"EBADF", 9}, {"EAGAIN", 11}, {"ENOMEM", 12},
    {"EACCES", 13}, {"EEXIST", 17}, {"ENODEV", 19}, {"EISDIR", 21}, {"EINVAL", 22},
    {"EMSGSIZE", 122}, {"EOPNOTSUPP", 95}, {"EADDRINUSE", 112}, {"ENETDOWN", 115},
    {"ECONNABORTED", 113}, {"ECONNRESET", 104}, {"ENOBUFS", 105}, {"ENOTCONN", 128},
    {"ETIMEDOUT", 116}, {"ECONNREFUSED", 111}, {"EHOSTUNREACH", 118}, {"EALREADY", 120},
    {"EINPROGRESS", 119}, {"MBEDTLS_ERR_NET_SOCKET_FAILED", -66},
    {"MBEDTLS_ERR_NET_CONNECT_FAILED", -68}, {"MBEDTLS_ERR_NET_BIND_FAILED", -70},
    {"MBEDTLS_ERR_NET_LISTEN_FAILED", -72}, {"MBEDTLS_ERR_NET_ACCEPT_FAILED", -74},
    {"MBEDTLS_ERR_NET_RECV_FAILED", -76}, {"MBEDTLS_ERR_NET_SEND_FAILED", -78},
    {"MBEDTLS_ERR_NET_CONN_RESET", -80}, {"MBEDTLS_ERR_NET_UNKNOWN_HOST", -82},
    {"MBEDTLS_ERR_NET_BUFFER_TOO_SMALL", -67}, {"MBEDTLS_ERR_NET_INVALID_CONTEXT", -69},
    {"MBEDTLS_ERR_NET_POLL_FAILED", -71}, {"MBEDTLS_ERR_NET_BAD_INPUT_DATA", -73}, {"ERR_MEM", -1},
    {"ERR_BUF", -2}, {"ERR_TIMEOUT", -3}, {"ERR_RTE", -4}, {"ERR_INPROGRESS", -5}, {"ERR_VAL", -6},
    {"ERR_WOULDBLOCK", -7}, {"ERR_USE", -8}, {"ERR_ALREADY", -9}, {"ERR_ISCONN", -10},
    {"ERR_ABRT", -13}, {"ERR_RST", -14}, {"ERR_CLSD", -15}, {"ERR_CONN", -11}, {"ERR_ARG", -16},
    {"ERR_IF", -12}, {"ESP_ERR_NO_MEM", 257}, {"ESP_ERR_INVALID_ARG", 258},
    {"ESP_ERR_INVALID_STATE", 259}, {"ESP_ERR_INVALID_SIZE", 260}, {"ESP_ERR_NOT_FOUND", 261},
    {"ESP_ERR_NOT_SUPPORTED", 262}, {"ESP_ERR_TIMEOUT", 263}, {"ESP_ERR_INVALID_RESPONSE", 264},
    {"ESP_ERR_INVALID_CRC", 265}, {"ESP_ERR_INVALID_VERSION", 266}, {"ESP_ERR_INVALID_MAC", 267},
    {"EAI_NONAME", 200}, {"EAI_SERVICE", 201}, {"EAI_FAIL", 202}, {"EAI_MEMORY", 203},
    {"EAI_FAMILY", 204}, {"HOST_NOT_FOUND", 210}, {"NO_DATA", 211}, {"NO_RECOVERY", 212},
    {"TRY_AGAIN", 213}, {"MBEDTLS_ERR_SSL_FEATURE_UNAVAILABLE", -28800},
    {"MBEDTLS_ERR_SSL_BAD_INPUT_DATA", -28928}, {"MBEDTLS_ERR_SSL_INVALID_MAC", -29056},
    {"MBEDTLS_ERR_SSL_INVALID_RECORD", -29184}, {"MBEDTLS_ERR_SSL_CONN_EOF", -29312},
    {"MBEDTLS_ERR_SSL_UNKNOWN_CIPHER", -29440}, {"MBEDTLS_ERR_SSL_NO_CIPHER_CHOSEN", -29568},
    {"MBEDTLS_ERR_SSL_NO_RNG", -29696}, {"MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE", -29824},
    {"MBEDTLS_ERR_SSL_CERTIFICATE_TOO_LARGE", -29952},
    {"MBEDTLS_ERR_SSL_CERTIFICATE_REQUIRED", -30080},
    {"MBEDTLS_ERR_SSL_PRIVATE_KEY_REQUIRED", -30208}, {"MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED", -30336},
    {"MBEDTLS_ERR_SSL_UNEXPECTED_MESSAGE", -30464}, {"MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE", -30592},
    {"MBEDTLS_ERR_SSL_PEER_VERIFY_FAILED", -30720}, {"MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY", -30848},
    {"MBEDTLS_ERR_SSL_BAD_HS_CLIENT_HELLO", -30976},
    {"MBEDTLS_ERR_SSL_BAD_HS_SERVER_HELLO", -31104}, {"MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE", -31232},
    {"MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE_REQUEST", -31360},
    {"MBEDTLS_ERR_SSL_BAD_HS_SERVER_KEY_EXCHANGE", -31488},
    {"MBEDTLS_ERR_SSL_BAD_HS_SERVER_HELLO_DONE", -31616},
    {"MBEDTLS_ERR_SSL_BAD_HS_CLIENT_KEY_EXCHANGE", -31744},
    {"MBEDTLS_ERR_SSL_BAD_HS_CLIENT_KEY_EXCHANGE_RP", -31872},
    {"MBEDTLS_ERR_SSL_BAD_HS_CLIENT_KEY_EXCHANGE_CS", -32000},
    {"MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE_VERIFY", -32128},
    {"MBEDTLS_ERR_SSL_BAD_HS_CHANGE_CIPHER_SPEC", -32256},
    {"MBEDTLS_ERR_SSL_BAD_HS_FINISHED", -32384}, {"MBEDTLS_ERR_SSL_ALLOC_FAILED", -32512},
    {"MBEDTLS_ERR_SSL_HW_ACCEL_FAILED", -32640}, {"MBEDTLS_ERR_SSL_HW_ACCEL_FALLTHROUGH", -28544},
    {"MBEDTLS_ERR_SSL_COMPRESSION_FAILED", -28416},
    {"MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION", -28288},
    {"MBEDTLS_ERR_SSL_BAD_HS_NEW_SESSION_TICKET", -28160},
    {"MBEDTLS_ERR_SSL_SESSION_TICKET_EXPIRED", -28032},
    {"MBEDTLS_ERR_SSL_PK_TYPE_MISMATCH", -27904}, {"MBEDTLS_ERR_SSL_UNKNOWN_IDENTITY", -27776},
    {"MBEDTLS_ERR_SSL_INTERNAL_ERROR", -27648}, {"MBEDTLS_ERR_SSL_COUNTER_WRAPPING", -27520},
    {"MBEDTLS_ERR_SSL_WAITING_SERVER_HELLO_RENEGO", -27392},
    {"MBEDTLS_ERR_SSL_HELLO_VERIFY_REQUIRED", -27264}, {"MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL", -27136},
    {"MBEDTLS_ERR_SSL_NO_USABLE_CIPHERSUITE", -27008}, {"MBEDTLS_ERR_SSL_WANT_READ", -26880},
    {"MBEDTLS_ERR_SSL_WANT_WRITE", -26752}, {"MBEDTLS_ERR_SSL_TIMEOUT", -26624},
    {"MBEDTLS_ERR_SSL_CLIENT_RECONNECT", -26496}, {"MBEDTLS_ERR_SSL_UNEXPECTED_RECORD", -26368},
    {"MBEDTLS_ERR_SSL_NON_FATAL", -26240}, {"MBEDTLS_ERR_SSL_INVALID_VERIFY_HASH", -26112},
    {"MBEDTLS_ERR_SSL_CONTINUE_PROCESSING", -25984}, {"MBEDTLS_ERR_SSL_ASYNC_IN_PROGRESS", -25856},
    {"MBEDTLS_ERR_PK_ALLOC_FAILED", -16256}, {"MBEDTLS_ERR_PK_TYPE_MISMATCH", -16128},
    {"MBEDTLS_ERR_PK_BAD_INPUT_DATA", -16000}, {"MBEDTLS_ERR_PK_FILE_IO_ERROR", -15872},
    {"MBEDTLS_ERR_PK_KEY_INVALID_VERSION", -15744}, {"MBEDTLS_ERR_PK_KEY_INVALID_FORMAT", -15616},
    {"MBEDTLS_ERR_PK_UNKNOWN_PK_ALG", -15488}, {"MBEDTLS_ERR_PK_PASSWORD_REQUIRED", -15360},
    {"MBEDTLS_ERR_PK_PASSWORD_MISMATCH", -15232}, {"MBEDTLS_ERR_PK_INVALID_PUBKEY", -15104},
    {"MBEDTLS_ERR_PK_INVALID_ALG", -14976}, {"MBEDTLS_ERR_PK_UNKNOWN_NAMED_CURVE", -14848},
    {"MBEDTLS_ERR_PK_FEATURE_UNAVAILABLE", -14720}, {"MBEDTLS_ERR_PK_SIG_LEN_MISMATCH", -14592},
    {"MBEDTLS_ERR_PK_HW_ACCEL_FAILED", -14464},
};
#define DEVICE_COUNT (sizeof device_list / sizeof device_list[0])

/* Every entry of uerrno.h, generated from its X-macros: Linux value (POSIX names only), device
 * value, listed. */
struct entry {
    const char *name;
    int linux_value; /* 0 for the non-errno names */
    int value;
    bool listed;
};
#define POSIX_(name, value, listed) {#name, name, value, listed},
#define EXTRA_(name, value) {#name, 0, value, true},
static const struct entry posix_entries[] = {UERRNO_POSIX_LIST(POSIX_)};
static const struct entry all_entries[] = {UERRNO_POSIX_LIST(POSIX_) UERRNO_EXTRA_LIST(EXTRA_)};
#undef POSIX_
#undef EXTRA_
#define POSIX_COUNT (sizeof posix_entries / sizeof posix_entries[0])
#define ALL_COUNT (sizeof all_entries / sizeof all_entries[0])

static void test_constants_are_newlib_and_library_values(void **state)
{
    (void)state;
    assert_int_equal(UERRNO_EINPROGRESS, 119);
    assert_int_equal(UERRNO_EALREADY, 120);
    assert_int_equal(UERRNO_ENOTCONN, 128);
    assert_int_equal(UERRNO_EISCONN, 127);
    assert_int_equal(UERRNO_ETIMEDOUT, 116);
    assert_int_equal(UERRNO_EHOSTUNREACH, 118);
    assert_int_equal(UERRNO_ECONNABORTED, 113);
    assert_int_equal(UERRNO_ECONNRESET, 104);
    assert_int_equal(UERRNO_EADDRINUSE, 112);
    assert_int_equal(UERRNO_ENOBUFS, 105);
    assert_int_equal(UERRNO_ENFILE, 23);
    assert_int_equal(UERRNO_ENOPROTOOPT, 109);
    assert_int_equal(UERRNO_EAGAIN, 11);
    assert_int_equal(UERRNO_EAI_NONAME, 200);
    assert_int_equal(UERRNO_EAI_SERVICE, 201);
    assert_int_equal(UERRNO_EAI_FAIL, 202);
    assert_int_equal(UERRNO_EAI_MEMORY, 203);
    assert_int_equal(UERRNO_EAI_FAMILY, 204);
    assert_int_equal(UERRNO_ERR_MEM, -1);
    assert_int_equal(UERRNO_ERR_ARG, -16);
    assert_int_equal(UERRNO_ESP_ERR_INVALID_MAC, 267);
    assert_int_equal(UERRNO_MBEDTLS_ERR_SSL_TIMEOUT, -26624);
    assert_int_equal(UERRNO_MBEDTLS_ERR_SSL_CONN_EOF, -29312);
    assert_int_equal(UERRNO_MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE, -30592);
    assert_int_equal(UERRNO_MBEDTLS_ERR_NET_CONN_RESET, -80);
    assert_int_equal(UERRNO_MBEDTLS_ERR_PK_HW_ACCEL_FAILED, -14464);
    assert_int_equal(UERRNO_MBEDTLS_ERR_X509_CERT_VERIFY_FAILED, -9984);
}

static void test_errorcode_names_every_device_entry(void **state)
{
    (void)state;
    for (size_t i = 0; i < DEVICE_COUNT; i++) {
        const char *name = uerrno_errorcode(device_list[i].value);
        if (!name || strcmp(name, device_list[i].name) != 0)
            fail_msg("errorcode[%d] is %s, the device has %s", device_list[i].value,
                     name ? name : "NULL", device_list[i].name);
    }
    assert_string_equal(uerrno_errorcode(119), "EINPROGRESS");
    assert_string_equal(uerrno_errorcode(-26624), "MBEDTLS_ERR_SSL_TIMEOUT");
    assert_string_equal(uerrno_errorcode(202), "EAI_FAIL");
    assert_string_equal(uerrno_errorcode(-80), "MBEDTLS_ERR_NET_CONN_RESET");
}

static void test_errorcode_is_null_for_unlisted_codes(void **state)
{
    (void)state;
    static const int unlisted[] = {
        127,   /* EISCONN */
        23,    /* ENFILE */
        109,   /* ENOPROTOOPT */
        -9984, /* MBEDTLS_ERR_X509_CERT_VERIFY_FAILED */
        32, 106, 114, 125, 0, 3, 134, 142, 199, 205, 256, 268,
        -17,    /* below lwIP's ERR_ARG */
        -0x6480, /* MBEDTLS_ERR_SSL_EARLY_MESSAGE: in mbedTLS 2.16, not in the list */
        -0x7000, /* MBEDTLS_ERR_SSL_CRYPTO_IN_PROGRESS: likewise */
    };
    for (size_t i = 0; i < sizeof unlisted / sizeof unlisted[0]; i++)
        if (uerrno_errorcode(unlisted[i]))
            fail_msg("errorcode[%d] is %s; the device does not list it", unlisted[i],
                     uerrno_errorcode(unlisted[i]));
}

/* The X-macros list exactly the device's names with the device's values: nothing missing,
 * nothing extra, nothing listed that the device only raises. */
static void test_listed_entries_are_exactly_the_devices_141(void **state)
{
    (void)state;
    size_t listed = 0;
    for (size_t i = 0; i < ALL_COUNT; i++) {
        if (!all_entries[i].listed)
            continue;
        listed++;
        size_t j = 0;
        while (j < DEVICE_COUNT && strcmp(device_list[j].name, all_entries[i].name) != 0)
            j++;
        if (j == DEVICE_COUNT)
            fail_msg("%s is listed, but not in the device's uerrno", all_entries[i].name);
        assert_int_equal(all_entries[i].value, device_list[j].value);
    }
    assert_int_equal(DEVICE_COUNT, 141);
    assert_int_equal(listed, 141);
}

static void test_no_two_entries_share_a_value(void **state)
{
    (void)state;
    for (size_t i = 0; i < ALL_COUNT; i++)
        for (size_t j = i + 1; j < ALL_COUNT; j++)
            if (all_entries[i].value == all_entries[j].value)
                fail_msg("%s and %s are both %d", all_entries[i].name, all_entries[j].name,
                         all_entries[i].value);
}

static void test_host_translation_of_socket_errors(void **state)
{
    (void)state;
    assert_int_equal(host_errno_to_device(EINPROGRESS), 119);
    assert_int_equal(host_errno_to_device(EALREADY), 120);
    assert_int_equal(host_errno_to_device(EISCONN), 127);
    assert_int_equal(host_errno_to_device(ENOTCONN), 128);
    assert_int_equal(host_errno_to_device(EADDRINUSE), 112);
    assert_int_equal(host_errno_to_device(EADDRNOTAVAIL), 125);
    assert_int_equal(host_errno_to_device(ECONNRESET), 104);
    assert_int_equal(host_errno_to_device(ECONNABORTED), 113);
    assert_int_equal(host_errno_to_device(EAGAIN), 11);
    assert_int_equal(host_errno_to_device(EWOULDBLOCK), 11);
    assert_int_equal(host_errno_to_device(ENOPROTOOPT), 109);
    assert_int_equal(host_errno_to_device(EAFNOSUPPORT), 106);
    assert_int_equal(host_errno_to_device(EMSGSIZE), 122);
    assert_int_equal(host_errno_to_device(EBADF), 9);
    assert_int_equal(host_errno_to_device(ENFILE), 23);
    assert_int_equal(host_errno_to_device(EMFILE), 24);
}

/* Conditions lwIP reports under another name (SEMANTICS §13). */
static void test_host_translation_of_lwip_conditions(void **state)
{
    (void)state;
    assert_int_equal(host_errno_to_device(ECONNREFUSED), 104); /* ERR_RST */
    assert_int_equal(host_errno_to_device(ETIMEDOUT), 113);    /* ERR_ABRT */
    assert_int_equal(host_errno_to_device(EPIPE), 104);
    assert_int_equal(host_errno_to_device(ENETUNREACH), 118);  /* ERR_RTE */
    assert_int_equal(host_errno_to_device(EHOSTUNREACH), 118);
}

static void test_host_translation_of_unknown_errors_is_eio(void **state)
{
    (void)state;
    assert_int_equal(host_errno_to_device(EHWPOISON), 5);
    assert_int_equal(host_errno_to_device(ERESTART), 5);
    assert_int_equal(host_errno_to_device(EUCLEAN), 5);
    assert_int_equal(host_errno_to_device(ENOTBLK), 5);
    assert_int_equal(host_errno_to_device(ESHUTDOWN), 5);
    assert_int_equal(host_errno_to_device(0), 5);
    assert_int_equal(host_errno_to_device(-1), 5);
    assert_int_equal(host_errno_to_device(4096), 5);
}

static const struct entry *posix_by_linux_value(int linux_value)
{
    for (size_t i = 0; i < POSIX_COUNT; i++)
        if (posix_entries[i].linux_value == linux_value)
            return &posix_entries[i];
    return NULL;
}

static bool is_device_errno(int value)
{
    for (size_t i = 0; i < POSIX_COUNT; i++)
        if (posix_entries[i].value == value)
            return true;
    return false;
}

/* No raw Linux number leaks: every kernel errno becomes the device number of the same name, the
 * lwIP condition it stands for, or EIO. */
static void test_every_linux_errno_becomes_a_device_number(void **state)
{
    (void)state;
    static const int conditions[] = {ECONNREFUSED, ETIMEDOUT, EPIPE, ENETUNREACH};
    for (int e = 1; e <= 133; e++) {
        int d = host_errno_to_device(e);
        bool is_condition = false;
        for (size_t i = 0; i < sizeof conditions / sizeof conditions[0]; i++)
            is_condition |= conditions[i] == e;
        const struct entry *same_name = posix_by_linux_value(e);
        if (!is_condition && same_name && d != same_name->value)
            fail_msg("Linux %s (%d) became %d, not the device's %d", same_name->name, e, d, same_name->value);
        if (!same_name && d != UERRNO_EIO)
            fail_msg("Linux errno %d (%s) has no device name but became %d, not EIO", e, strerror(e), d);
        if (!is_device_errno(d))
            fail_msg("Linux errno %d became %d, which is no newlib errno", e, d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constants_are_newlib_and_library_values),
        cmocka_unit_test(test_errorcode_names_every_device_entry),
        cmocka_unit_test(test_errorcode_is_null_for_unlisted_codes),
        cmocka_unit_test(test_listed_entries_are_exactly_the_devices_141),
        cmocka_unit_test(test_no_two_entries_share_a_value),
        cmocka_unit_test(test_host_translation_of_socket_errors),
        cmocka_unit_test(test_host_translation_of_lwip_conditions),
        cmocka_unit_test(test_host_translation_of_unknown_errors_is_eio),
        cmocka_unit_test(test_every_linux_errno_becomes_a_device_number),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
