/*
 * Internal helpers shared by the device-side modules: the one error convention and reading the
 * active configuration. Internal names start upy__ (or their module's own prefix), public ones upy_. Nothing here touches the kernel; that is src/host/.
 */
#ifndef UPYSOCK_INTERNAL_H
#define UPYSOCK_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "host/host.h"
#include "host/observe.h"
#include "upysock/uerrno.h"
#include "upysock/upy.h"

/* --- one error convention --------------------------------------------------------------------
 * Inside the library a result is >= 0 for success or a NEGATIVE CODE for a failure, carried
 * unchanged from the host border (whose negative device errnos are codes already) up to the
 * public entry point, which alone turns it into the thread's exception (upy__raise), as lwIP
 * carries err_t to the one set_errno of each socket call. A code is one of, without overlap:
 *   -e            OSError(e) for 0 < e < UPY__OS_LIMIT: device errnos, certificate flags
 *   UPY__OS(c)    OSError(c) for any c: codes <= 0 (mbedTLS's) land in the band below
 *   UPY__E_*      below both: the exceptions with a fixed message and the two markers, one row
 *                 each in upy.c's table */
#define UPY__OS_LIMIT 0x1000000
#define UPY__OS(c) ((c) > 0 ? -(c) : (c) - UPY__OS_LIMIT)

/* X(name, exception type, message): the fixed exceptions, worded as the firmware words them. */
#define UPY__ERRORS(X) \
    X(WOULD_BLOCK, OSERROR, NULL)      /* marker: nothing moved (each call reports it its way) */ \
    X(LAYER_TIMEOUT, OSERROR, NULL)    /* marker: the TLS layer's read timeout (SSL_TIMEOUT) */ \
    X(RAISED, NONE, NULL)              /* the exception is set already (config's own text) */ \
    X(TIMEOUT, TIMEOUTERROR, "timed out") \
    X(MEMORY, MEMORYERROR, "") \
    X(NO_THREAD, MEMORYERROR, "can't create thread") \
    X(INVALID_ARGS, VALUEERROR, "invalid arguments") \
    X(INVALID_ARG_VALUE, VALUEERROR, "invalid argument(s) value") \
    X(TIMEOUT_NAN, VALUEERROR, "timeout must be a number") \
    X(INDEX_RANGE, VALUEERROR, "Index out of range!\n") \
    X(PORT_RANGE, VALUEERROR, "port must be 0-65535") \
    X(SANDBOX, VALUEERROR, "UPYSOCK_NET: sandbox refused a non-loopback address") \
    X(SLEEP_NEGATIVE, VALUEERROR, "sleep length must be non-negative") \
    X(LOG_FD, VALUEERROR, "log fd is not open") \
    X(NEED_BUFFER, TYPEERROR, "object with buffer protocol required") \
    X(NULL_BUFFER, TYPEERROR, "NULL buffer") \
    X(NULL_RESULT, TYPEERROR, "NULL result") \
    X(NOT_SOCKET, TYPEERROR, "object is not a socket") \
    X(NULL_SOCKET, TYPEERROR, "expected a socket, got NULL") \
    X(NULL_POLL, TYPEERROR, "expected a poll object, got NULL") \
    X(NULL_LOCK, TYPEERROR, "expected a lock, got NULL") \
    X(NULL_ADDR, TYPEERROR, "address must be a (ip, port) tuple, not NULL") \
    X(NULL_HOST, TYPEERROR, "host must be a string, not NULL") \
    X(NULL_DNS, TYPEERROR, "address must be a string, not NULL") \
    X(NOT_LIST, TYPEERROR, "object isn't a tuple or list") \
    X(NOT_CALLABLE, TYPEERROR, "function must be callable, not NULL") \
    X(NO_CARD, OSERROR, "Network card not available") \
    X(BAD_FAMILY, OSERROR, "incorrect socket type") \
    X(NOT_STREAM, OSERROR, "stream operation not supported") \
    X(CA_MISSING, OSERROR, "CA file not found") \
    X(CERT_MISSING, OSERROR, "certificate file not found") \
    X(KEY_MISSING, OSERROR, "key file not found") \
    X(EXIT_OUTSIDE, RUNTIMEERROR, "exit() outside a thread started by start_new_thread") \
    X(NOT_HELD, RUNTIMEERROR, "") /* releasing an unlocked lock: "RuntimeError: " */

#define UPY__E_ENUM_(name, type, message) UPY__E_##name,
enum upy__code { UPY__E_BASE_ = -4 * UPY__OS_LIMIT, UPY__ERRORS(UPY__E_ENUM_) };

/* The public entry point's end: the exception for code (< 0); returns -1. */
int upy__raise(long code);

/* Makes e the thread's exception again, as it was saved: a restore, not a raise, so the trace
 * does not record it a second time. */
void upy__exc_restore(const upy_exc *e);

/* Whether the trace is on: one relaxed load and a branch predicted not taken. */
#define UPY__TRACING() __builtin_expect(atomic_load_explicit(&observe_tracing, memory_order_relaxed), 0)

/* The trace's record of a public call that no seam hook records (docs/observe.md): its name,
 * the socket it acted on (NULL: none), its result or code, then its arguments as observe_arg
 * initialisers. With tracing off this costs one relaxed load and a branch not taken. */
#define UPY__TRACE_CALL(call, s, code, ...) \
    do { \
        if (UPY__TRACING()) { \
            const observe_arg args_[] = {{.key = NULL}, __VA_ARGS__}; \
            upy__trace_call(call, s, code, args_ + 1, (int)(sizeof args_ / sizeof *args_) - 1); \
        } \
    } while (0)
void upy__trace_call(const char *call, const host_sock *s, long code, const observe_arg *args, int n);


/* Fails with the first configuration error (ValueError naming the variable: set here, as its
 * text is config.c's, and UPY__E_RAISED returned), else 0. Called by the calls that start socket
 * work, so a bad UPYSOCK_* variable is never silently ignored. */
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
