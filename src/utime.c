/* time: sleeps and 32-bit ticks (Pycom's own modutime.c: the period is 2^32, not 2^30). */
#include <math.h>

#include "host/host.h"
#include "internal.h"
#include "upysock/utime.h"

int utime_sleep_ms(int ms)
{
    if (ms < 0)
        return upy__raise(UPY__E_SLEEP_NEGATIVE);
    host_sleep_us((uint64_t)ms * 1000u);
    return 0;
}

int utime_sleep_us(int us)
{
    if (us < 0)
        return upy__raise(UPY__E_SLEEP_NEGATIVE);
    host_sleep_us((uint64_t)us);
    return 0;
}

int utime_sleep(double seconds)
{
    if (isnan(seconds) || seconds < 0)
        return upy__raise(UPY__E_SLEEP_NEGATIVE);
    double ms = seconds * 1000.0; /* int(1000 * s) ms, as the firmware converts it */
    host_sleep_us(ms >= 4294967295.0 ? UINT64_C(4294967295000) : (uint64_t)ms * 1000u);
    return 0;
}

uint32_t utime_ticks_ms(void)
{
    return (uint32_t)(host_monotonic_us() / 1000u);
}

uint32_t utime_ticks_us(void)
{
    return (uint32_t)host_monotonic_us();
}

uint32_t utime_ticks_add(uint32_t ticks, int32_t delta)
{
    return ticks + (uint32_t)delta;
}

int32_t utime_ticks_diff(uint32_t end, uint32_t start)
{
    return (int32_t)(end - start);
}

long long utime_time(void)
{
    return (long long)host_realtime_s();
}
