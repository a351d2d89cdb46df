/*
 * upysock._upysock — the CPython binding of libupysock, shared declarations.
 *
 * The binding is thin on purpose: every device rule lives in the C library. A file here turns
 * Python arguments into the C call's arguments (with the board's TypeError/ValueError for wrong
 * shapes), runs the call with the GIL released when it may block, and turns the library's
 * current exception (upy.h) into a Python one. One file per device module, named after it.
 */
#ifndef UPYSOCK_EXT_H
#define UPYSOCK_EXT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <upysock/uerrno.h>
#include <upysock/uselect.h>
#include <upysock/usocket.h>
#include <upysock/ussl.h>
#include <upysock/uthread.h>

/* --- errors.c: the library's exception → Python ----------------------------------------------- */

/* _upysock.OSError: builtin OSError's subclass that prints as the board does. */
extern PyObject *upyext_OSError;

int upyext_errors_init(PyObject *module);

/* Raise the calling thread's current library exception as Python's; returns NULL. */
PyObject *upyext_raise(void);

/* None for a library call's 0, its exception for -1. */
PyObject *upyext_none_or_raise(int rc);

/* Raise the board's OSError(code) from the binding itself; returns NULL. */
PyObject *upyext_raise_errno(int code);

/* Run a library call that may wait with the GIL released, so other Python threads run and a
 * close() from one of them reaches the library. */
#define UPYEXT_NOGIL(stmt)     \
    do {                       \
        Py_BEGIN_ALLOW_THREADS \
        stmt;                  \
        Py_END_ALLOW_THREADS   \
    } while (0)

/* --- args.c: Python values → C values with the board's messages ------------------------------- */

/* mp_obj_get_int: int or bool, else TypeError("can't convert T to int"). */
int upyext_get_int(PyObject *o, long *out);

/* mp_obj_get_int_truncated: an int of any size, truncated to the low bits. */
int upyext_get_int_truncated(PyObject *o, long *out);

/* mp_obj_get_float: int, bool or float, else TypeError("can't convert T to float"). */
int upyext_get_float(PyObject *o, double *out);

/* A readable buffer: str (its UTF-8 bytes) or any bytes-like object, else TypeError
 * ("object with buffer protocol required"). Release with PyBuffer_Release. */
int upyext_get_read_buffer(PyObject *o, Py_buffer *view);

/* mp_obj_str_get_str: str or bytes → its text (valid while o lives). */
const char *upyext_get_str(PyObject *o);

/* A tuple or list, else TypeError("object 'T' isn't a tuple or list"). */
int upyext_check_tuple_or_list(PyObject *o);

/* ('a.b.c.d', port) → usocket_addr. */
int upyext_get_addr(PyObject *o, usocket_addr *out);

/* usocket_addr → ('a.b.c.d', port). */
PyObject *upyext_addr_tuple(const usocket_addr *a);

/* Add integer constants to a module; the table ends with a NULL name. */
typedef struct upyext_const {
    const char *name;
    long value;
} upyext_const;
int upyext_add_consts(PyObject *m, const upyext_const *table);

/* A new module object named `name` (types.ModuleType) holding `methods`, added to `parent`
 * as an attribute. Returns a borrowed reference. */
PyObject *upyext_submodule(PyObject *parent, const char *name, PyMethodDef *methods);

/* --- socket.c: socket objects --------------------------------------------------------------- */

typedef struct upyext_sock {
    PyObject_HEAD
    usocket *s;
    struct upyext_sock *prev, *next; /* the registry of live sockets (soft_reset); GIL-protected */
    PyObject *weakrefs;
} upyext_sock;

extern PyTypeObject *upyext_socket_type; /* usocket.socket */
extern PyTypeObject *upyext_ssl_type;    /* the board's "ussl" socket type */

int upyext_socket_init(PyObject *module);

/* The usocket handle of a socket or SSL socket object, or NULL (no exception) for anything else. */
usocket *upyext_sock_handle(PyObject *o);

/* Wrap a new handle (the reference is taken over); NULL with MemoryError. */
PyObject *upyext_sock_wrap(usocket *s, PyTypeObject *type);

/* Close every live socket object (soft_reset). */
void upyext_close_all_sockets(void);

/* --- the other device modules ------------------------------------------------------------------ */

int upyext_select_init(PyObject *module);
int upyext_ssl_init(PyObject *module);
int upyext_errno_init(PyObject *module);
int upyext_time_init(PyObject *module);
int upyext_thread_init(PyObject *module);

/* thread.c: the runner's view of device threads. */
PyObject *upyext_live_threads(void);
int upyext_set_thread_excepthook(PyObject *hook);

#endif
