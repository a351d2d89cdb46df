/*
 * upysock — the error convention, modelled on MicroPython exceptions.
 *
 * Every upysock call that fails returns -1 (or NULL for calls that return a handle) and sets the
 * calling thread's current exception. The exception carries what the device would have raised:
 * its type, its numeric args[0] (a device errno such as 119, or a negative mbedTLS code such as
 * -26624) or its text args[0] ("CA file not found"). upy_exc_format() prints it exactly as the
 * board's REPL would ("OSError: [Errno 119] EINPROGRESS").
 *
 * A successful call leaves the current exception alone, like C's errno: read it only after a
 * failure.
 */
#ifndef UPYSOCK_UPY_H
#define UPYSOCK_UPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UPYSOCK_VERSION_MAJOR 0
#define UPYSOCK_VERSION_MINOR 1
#define UPYSOCK_VERSION_PATCH 0
#define UPYSOCK_VERSION "0.1.0"

#if defined(__GNUC__)
#define UPY_API __attribute__((visibility("default")))
#else
#define UPY_API
#endif

/* Returned by the stream calls (read, readinto, readline, write) where Python returns None:
 * nothing could be done without blocking, or a timeout expired before any byte moved. */
#define UPY_NONE (-2)

/* Exception types the device raises from socket code. */
typedef enum upy_exc_type {
    UPY_EXC_NONE = 0,
    UPY_EXC_OSERROR,      /* also ssl.SSLError, which is OSError itself on the device */
    UPY_EXC_TIMEOUTERROR, /* subclass of OSError, always with args ('timed out',) */
    UPY_EXC_VALUEERROR,
    UPY_EXC_TYPEERROR,
    UPY_EXC_MEMORYERROR,
    UPY_EXC_RUNTIMEERROR,
} upy_exc_type;

#define UPY_EXC_MESSAGE_MAX 160

/* One raised exception. args[0] is either a number (has_code, code) or text (message). */
typedef struct upy_exc {
    upy_exc_type type;
    bool has_code; /* args[0] is numeric: a device errno or a negative mbedTLS code */
    int code;      /* args[0] when has_code; 0 otherwise */
    char message[UPY_EXC_MESSAGE_MAX]; /* args[0] when text; "" when has_code */
} upy_exc;

/* The calling thread's current exception (type UPY_EXC_NONE if none was raised yet). */
UPY_API const upy_exc *upy_exc_current(void);

/* Forget the calling thread's current exception. */
UPY_API void upy_exc_clear(void);

/* Python's isinstance(e, type): a TimeoutError is also an OSError. */
UPY_API bool upy_exc_isinstance(const upy_exc *e, upy_exc_type type);

/* True when the current exception is an OSError (or subclass) whose args[0] is `code`:
 * the C form of `except OSError as e: if e.args[0] == uerrno.EINPROGRESS`. */
UPY_API bool upy_exc_is_errno(int code);

/* Render an exception (NULL: the current one) as the device prints it, e.g.
 * "OSError: [Errno 104] ECONNRESET", "OSError: -9984", "TimeoutError: timed out".
 * snprintf-style: returns the length the full text needs. */
UPY_API size_t upy_exc_format(const upy_exc *e, char *buf, size_t size);

/* Print the current exception's formatted line and a newline to `f`. */
UPY_API void upy_exc_print(FILE *f);

/* The Python name of an exception type ("OSError"). */
UPY_API const char *upy_exc_type_name(upy_exc_type type);

/* Raise an exception from your own code (e.g. in a thread function that then returns -1).
 * `message` NULL raises with numeric args[0] = code. Always returns -1. */
UPY_API int upy_raise(upy_exc_type type, int code, const char *message);

/* Python's repr() of a bytes object, e.g. b'Data to send' or b'\x00\n'. snprintf-style. */
UPY_API size_t upy_bytes_repr(const void *data, size_t len, char *out, size_t size);

#ifdef __cplusplus
}
#endif

#include "upy_config.h"

#endif
