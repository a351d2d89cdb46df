/* The exception state: one current exception per thread, rendered the way MicroPython prints it. */
#include <stdarg.h>
#include <string.h>

#include "host/observe.h"
#include "internal.h"

static _Thread_local upy_exc current;

const upy_exc *upy_exc_current(void)
{
    return &current;
}

void upy_exc_clear(void)
{
    memset(&current, 0, sizeof current);
}

const char *upy_exc_type_name(upy_exc_type type)
{
    static const char *const names[] = {
        [UPY_EXC_NONE] = "NoException",           [UPY_EXC_OSERROR] = "OSError",
        [UPY_EXC_TIMEOUTERROR] = "TimeoutError",  [UPY_EXC_VALUEERROR] = "ValueError",
        [UPY_EXC_TYPEERROR] = "TypeError",        [UPY_EXC_MEMORYERROR] = "MemoryError",
        [UPY_EXC_RUNTIMEERROR] = "RuntimeError",
    };
    if ((unsigned)type >= sizeof names / sizeof names[0])
        return "Exception";
    return names[type];
}

bool upy_exc_isinstance(const upy_exc *e, upy_exc_type type)
{
    if (!e)
        return false;
    return e->type == type || (type == UPY_EXC_OSERROR && e->type == UPY_EXC_TIMEOUTERROR);
}

bool upy_exc_is_errno(int code)
{
    return upy_exc_isinstance(&current, UPY_EXC_OSERROR) && current.has_code && current.code == code;
}

size_t upy_exc_format(const upy_exc *e, char *buf, size_t size)
{
    if (!e)
        e = &current;
    const char *type = upy_exc_type_name(e->type);
    int n;
    if (!e->has_code) {
        /* mp_obj_exception_print: "Type: " then args[0]; nothing after ": " without args. */
        n = snprintf(buf, size, "%s: %s", type, e->message);
    } else {
        /* mp_obj_exception_print: OSError with a listed errno gets "[Errno n] NAME". */
        const char *name = e->type == UPY_EXC_OSERROR ? uerrno_errorcode(e->code) : NULL;
        n = name ? snprintf(buf, size, "%s: [Errno %d] %s", type, e->code, name)
                 : snprintf(buf, size, "%s: %d", type, e->code);
    }
    return n < 0 ? 0 : (size_t)n;
}

void upy_exc_print(FILE *f)
{
    char line[UPY_EXC_MESSAGE_MAX + 64];
    upy_exc_format(&current, line, sizeof line);
    fprintf(f, "%s\n", line);
}

int upy_raise(upy_exc_type type, int code, const char *message)
{
    if (__builtin_expect(atomic_load_explicit(&observe_tracing, memory_order_relaxed), 0))
        observe_raised(upy_exc_type_name(type), code, message);
    current.type = type;
    current.has_code = message == NULL;
    current.code = message == NULL ? code : 0;
    current.message[0] = '\0';
    if (message)
        snprintf(current.message, sizeof current.message, "%s", message);
    return -1;
}

void upy__exc_restore(const upy_exc *e)
{
    current = *e;
}

#define UPY__ROW_(name, type, message) {UPY_EXC_##type, message},
static const struct {
    upy_exc_type type;
    const char *message; /* NULL: an OSError with a code */
} fixed[] = {UPY__ERRORS(UPY__ROW_)};

/* The OSError code a library code raises (0 for the codes that raise something else). */
static int oserror_code(long code)
{
    if (code > -UPY__OS_LIMIT)
        return (int)-code;
    if (code >= -2 * UPY__OS_LIMIT)
        return (int)(code + UPY__OS_LIMIT);
    if (code == UPY__E_WOULD_BLOCK)
        return UERRNO_EAGAIN;
    return code == UPY__E_LAYER_TIMEOUT ? UERRNO_MBEDTLS_ERR_SSL_TIMEOUT : 0;
}

int upy__raise(long code)
{
    if (code >= -2 * UPY__OS_LIMIT || code == UPY__E_WOULD_BLOCK || code == UPY__E_LAYER_TIMEOUT)
        return upy_raise(UPY_EXC_OSERROR, oserror_code(code), NULL);
    if (code == UPY__E_RAISED)
        return -1;
    size_t row = (size_t)(code - UPY__E_BASE_ - 1);
    if (row >= sizeof fixed / sizeof fixed[0]) /* not a code: a bug, reported as lwIP's catch-all */
        return upy_raise(UPY_EXC_OSERROR, UERRNO_EIO, NULL);
    return upy_raise(fixed[row].type, 0, fixed[row].message);
}

void upy__trace_call(const char *call, const host_sock *s, long code, const observe_arg *args, int n)
{
    observe_call(call, s, args, n, code < 0 ? -1 : code, code < 0 ? oserror_code(code) : 0);
}

/* Appends one repr unit to out (bounded), always advancing the logical length. */
static size_t put(char *out, size_t size, size_t at, const char *text)
{
    size_t len = strlen(text);
    if (at < size) {
        size_t room = size - at - 1;
        memcpy(out + at, text, len < room ? len : room);
    }
    return at + len;
}

size_t upy_bytes_repr(const void *data, size_t len, char *out, size_t size)
{
    const unsigned char *p = data;
    /* Python picks the quote that needs no escaping: ' unless the data has ' and no ". */
    bool has_single = len && memchr(p, '\'', len), has_double = len && memchr(p, '"', len);
    char quote = has_single && !has_double ? '"' : '\'';
    char unit[8] = {'b', quote, 0};
    size_t at = put(out, size, 0, unit);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        if (c == (unsigned char)quote || c == '\\')
            snprintf(unit, sizeof unit, "\\%c", c);
        else if (c == '\t')
            snprintf(unit, sizeof unit, "\\t");
        else if (c == '\n')
            snprintf(unit, sizeof unit, "\\n");
        else if (c == '\r')
            snprintf(unit, sizeof unit, "\\r");
        else if (c < 0x20 || c >= 0x7f)
            snprintf(unit, sizeof unit, "\\x%02x", c);
        else
            snprintf(unit, sizeof unit, "%c", c);
        at = put(out, size, at, unit);
    }
    snprintf(unit, sizeof unit, "%c", quote);
    at = put(out, size, at, unit);
    if (size)
        out[at < size ? at : size - 1] = '\0';
    return at;
}
