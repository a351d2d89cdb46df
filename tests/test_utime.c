/* time: 32-bit tick arithmetic (period 2^32 on Pycom), sleeps and clocks. */
#include <math.h>
#include <stdint.h>
#include <time.h>

#include <upysock/utime.h>

#include "testutil.h"

static void test_ticks_add_wraps_at_32_bits(void **state)
{
    (void)state;
    assert_int_equal(utime_ticks_add(0xFFFFFFFFu, 1), 0);
    assert_int_equal(utime_ticks_add(0xFFFFFFFBu, 10), 5);
    assert_int_equal(utime_ticks_add(0, -1), 0xFFFFFFFFu);
    assert_int_equal(utime_ticks_add(5, -10), 0xFFFFFFFBu);
    assert_int_equal(utime_ticks_add(1000, 234), 1234);
    assert_int_equal(utime_ticks_add(0, INT32_MIN), 0x80000000u);
}

static void test_ticks_diff_is_signed_32_bit(void **state)
{
    (void)state;
    assert_int_equal(utime_ticks_diff(5, 0xFFFFFFFBu), 10);
    assert_int_equal(utime_ticks_diff(0xFFFFFFFBu, 5), -10);
    assert_int_equal(utime_ticks_diff(0x80000000u, 0), INT32_MIN);
    assert_int_equal(utime_ticks_diff(0x7FFFFFFFu, 0), INT32_MAX);
    assert_int_equal(utime_ticks_diff(0, 1), -1);
    assert_int_equal(utime_ticks_diff(1234, 1234), 0);
    /* The pair agrees: diff(add(t, d), t) == d. */
    assert_int_equal(utime_ticks_diff(utime_ticks_add(0xFFFFFF00u, 0x200), 0xFFFFFF00u), 0x200);
}

static void test_negative_sleeps_are_valueerror(void **state)
{
    (void)state;
    assert_int_equal(utime_sleep_ms(-1), -1);
    assert_exc_msg(UPY_EXC_VALUEERROR, "sleep length must be non-negative");
    assert_int_equal(utime_sleep_us(-1), -1);
    assert_exc_msg(UPY_EXC_VALUEERROR, "sleep length must be non-negative");
    assert_int_equal(utime_sleep(-0.001), -1);
    assert_exc_msg(UPY_EXC_VALUEERROR, "sleep length must be non-negative");
    assert_int_equal(utime_sleep(NAN), -1);
    assert_exc_msg(UPY_EXC_VALUEERROR, "sleep length must be non-negative");
    assert_int_equal(utime_sleep_ms(0), 0);
    assert_int_equal(utime_sleep_us(0), 0);
    assert_int_equal(utime_sleep(0), 0);
}

/* A measurement of the sleep itself (not synchronisation): the ticks move at least as far. */
static void test_ticks_follow_sleeps(void **state)
{
    (void)state;
    uint32_t ms0 = utime_ticks_ms(), us0 = utime_ticks_us();
    assert_int_equal(utime_sleep_ms(20), 0);
    int32_t ms = utime_ticks_diff(utime_ticks_ms(), ms0), us = utime_ticks_diff(utime_ticks_us(), us0);
    assert_in_range(ms, 20, 5000);
    assert_in_range(us, 20000, 5000000);

    ms0 = utime_ticks_ms();
    assert_int_equal(utime_sleep(0.02), 0);
    assert_in_range(utime_ticks_diff(utime_ticks_ms(), ms0), 20, 5000);

    us0 = utime_ticks_us();
    assert_int_equal(utime_sleep_us(1500), 0);
    assert_in_range(utime_ticks_diff(utime_ticks_us(), us0), 1500, 5000000);
}

static void test_ticks_never_go_back(void **state)
{
    (void)state;
    uint32_t last = utime_ticks_ms();
    for (int i = 0; i < 10000; i++) {
        uint32_t now = utime_ticks_ms();
        assert_true(utime_ticks_diff(now, last) >= 0);
        last = now;
    }
}

static void test_time_is_unix_seconds(void **state)
{
    (void)state;
    time_t before = time(NULL);
    long long t = utime_time();
    time_t after = time(NULL);
    assert_in_range(t, (long long)before, (long long)after);
}

int main(void)
{
    tu_clear_upysock_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ticks_add_wraps_at_32_bits),
        cmocka_unit_test(test_ticks_diff_is_signed_32_bit),
        cmocka_unit_test(test_negative_sleeps_are_valueerror),
        cmocka_unit_test(test_ticks_follow_sleeps),
        cmocka_unit_test(test_ticks_never_go_back),
        cmocka_unit_test(test_time_is_unix_seconds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
