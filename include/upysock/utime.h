/*
 * upysock — time: the calls socket code on the board uses (sleep_ms, ticks_ms, ticks_diff ...).
 *
 * Ticks are 32-bit and wrap: compare them only through utime_ticks_diff().
 */
#ifndef UPYSOCK_UTIME_H
#define UPYSOCK_UTIME_H

#include <stdint.h>

#include "upy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* sleep_ms(ms). Negative → -1, ValueError. */
UPY_API int utime_sleep_ms(int ms);

/* sleep_us(us). Negative → -1, ValueError. */
UPY_API int utime_sleep_us(int us);

/* sleep(seconds): int(seconds*1000) ms, as the device converts it. Negative or NaN → ValueError. */
UPY_API int utime_sleep(double seconds);

/* ticks_ms(): milliseconds, truncated to 32 bits. */
UPY_API uint32_t utime_ticks_ms(void);

/* ticks_us(): microseconds, truncated to 32 bits. */
UPY_API uint32_t utime_ticks_us(void);

/* ticks_add(ticks, delta): 32-bit wrapping addition. */
UPY_API uint32_t utime_ticks_add(uint32_t ticks, int32_t delta);

/* ticks_diff(end, start): end - start as a signed 32-bit number, wrap-safe. */
UPY_API int32_t utime_ticks_diff(uint32_t end, uint32_t start);

/* time(): seconds since the Unix epoch. */
UPY_API long long utime_time(void);

#ifdef __cplusplus
}
#endif

#endif
