/*
 * Internal helpers shared by the device-side modules: raising exceptions and reading the active
 * configuration. Nothing here touches the kernel; that is src/host/.
 */
#ifndef UPYSOCK_INTERNAL_H
#define UPYSOCK_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "host/host.h"
#include "upysock/uerrno.h"
#include "upysock/upy.h"

/* Raising: each sets the thread's current exception and returns -1, so a caller can write
 * `return upy_raise_os(UERRNO_EBADF);`. */
int upy_raise_os(int code);              /* OSError(code) */
int upy_raise_os_msg(const char *text);  /* OSError("text") */
int upy_raise_timeout(void);             /* TimeoutError("timed out") */
int upy_raise_value(const char *text);   /* ValueError("text") */
int upy_raise_type(const char *text);    /* TypeError("text") */
int upy_raise_memory(void);              /* MemoryError() */

/* For the helpers between a socket call and its syscall: each stack frame still open during the
 * syscall costs a mispredicted return when it comes back, because the kernel refills the return
 * stack buffer on the way out (docs/performance.md has the measurement). */
#if defined(__GNUC__)
#define UPY_HOT_INLINE static inline __attribute__((always_inline))
#else
#define UPY_HOT_INLINE static inline
#endif

/* The device's argument errors, worded as the firmware words them. */
#define UPY_MSG_INVALID_ARGS "invalid arguments"
#define UPY_MSG_INVALID_ARG_VALUE "invalid argument(s) value"

/* Fails with the first configuration error (ValueError naming the variable), else 0. Called by
 * the calls that start socket work, so a bad UPYSOCK_* variable is never silently ignored. */
int config_ready(void);

/* The active profile (never NULL); one acquire load. */
const upy_profile *profile(void);

/* A setsockopt option as lwIP 2.0.3 implements it (lwip_setsockopt_impl). */
enum sockopt_on { SOCKOPT_ANY, SOCKOPT_TCP, SOCKOPT_UDP }; /* netconn type lwIP insists on */
enum sockopt_value {
    SOCKOPT_INT,       /* int */
    SOCKOPT_BYTE,      /* u8_t: the value's first byte */
    SOCKOPT_TIMEVAL,   /* the device's 8-byte {int32 tv_sec, int32 tv_usec} */
    SOCKOPT_IDLE_MS,   /* TCP_KEEPALIVE: an int of milliseconds */
    SOCKOPT_MREQ,      /* ip_mreq {group, interface}: the interface goes through the virtual LAN */
    SOCKOPT_IFADDR,    /* in_addr of an interface: likewise */
};
struct profile_sockopt {
    int level, opt;
    unsigned size; /* shorter values are EINVAL */
    enum sockopt_on on;
    enum sockopt_value value;
    host_opt host;
};

/* The option, or NULL when lwIP does not implement setting it (→ ENOPROTOOPT). */
const struct profile_sockopt *profile_sockopt(int level, int opt);

/* A wait of the calling thread that has no timeout (uthread.c keeps the books, for
 * uthread_activity_now). `forever(arg)` tells, when asked, whether nothing but a device thread's
 * action could end the wait; it runs under the thread registry's lock, so `arg` stays valid until
 * thread_wait_end. Threads not started by uthread_start_new_thread are not tracked (no-ops). */
void thread_wait_begin(bool (*forever)(const void *arg), const void *arg);
void thread_wait_end(void);


#endif
