/*
 * usocket: the socket type, the board's "ussl" type that wrap_socket returns (same methods:
 * the firmware gives both one method table, do_handshake included), getaddrinfo, dnsserver and
 * the constants.
 *
 * Every call that can wait runs with the GIL released, so a close() from another Python thread
 * reaches the library and wakes the waiting call as it does in C. A socket object owns one
 * reference to its handle and drops it when collected: the board's finaliser.
 */
#include "upysock_ext.h"

#include <string.h>

#define SOCK(o) (((upyext_sock *)(o))->s)

/* --- the registry of live socket objects (soft_reset closes them all) ------------------------ */

static upyext_sock registry = {.prev = &registry, .next = &registry};

static void registry_add(upyext_sock *o)
{
    o->next = &registry;
    o->prev = registry.prev;
    registry.prev->next = o;
    registry.prev = o;
}

static void registry_remove(upyext_sock *o)
{
    if (!o->next)
        return;
    o->prev->next = o->next;
    o->next->prev = o->prev;
    o->next = o->prev = NULL;
}

void upyext_close_all_sockets(void)
{
    size_t n = 0;
    for (upyext_sock *o = registry.next; o != &registry; o = o->next)
        n++;
    usocket **handles = PyMem_RawMalloc((n ? n : 1) * sizeof *handles);
    if (!handles)
        return;
    size_t i = 0;
    for (upyext_sock *o = registry.next; o != &registry; o = o->next)
        handles[i++] = usocket_ref(o->s);
    UPYEXT_NOGIL(for (i = 0; i < n; i++) {
        usocket_close(handles[i]);
        usocket_release(handles[i]);
    });
    PyMem_RawFree(handles);
}

/* --- construction and finalisation ------------------------------------------------------------ */

PyTypeObject *upyext_socket_type;
PyTypeObject *upyext_ssl_type;

usocket *upyext_sock_handle(PyObject *o)
{
    return (PyObject_TypeCheck(o, upyext_socket_type) || PyObject_TypeCheck(o, upyext_ssl_type)) ? SOCK(o) : NULL;
}

PyObject *upyext_sock_wrap(usocket *s, PyTypeObject *type)
{
    upyext_sock *o = (upyext_sock *)type->tp_alloc(type, 0);
    if (!o) {
        usocket_release(s);
        return NULL;
    }
    o->s = s;
    registry_add(o);
    return (PyObject *)o;
}

/* socket(af=AF_INET, type=SOCK_STREAM, proto=IPPROTO_TCP, fileno=None): positional only. */
static PyObject *sock_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    long v[3] = {USOCKET_AF_INET, USOCKET_SOCK_STREAM, USOCKET_IPPROTO_TCP};
    if (kwargs && PyDict_GET_SIZE(kwargs)) {
        PyErr_SetString(PyExc_TypeError, "function does not take keyword arguments");
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    if (n > 4) {
        PyErr_Format(PyExc_TypeError, "function expected at most 4 arguments, got %zd", n);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n && i < 3; i++)
        if (upyext_get_int(PyTuple_GET_ITEM(args, i), &v[i]) < 0)
            return NULL;
    usocket *s = usocket_socket((int)v[0], (int)v[1], (int)v[2]);
    return s ? upyext_sock_wrap(s, type) : upyext_raise();
}

static void sock_dealloc(PyObject *self)
{
    upyext_sock *o = (upyext_sock *)self;
    if (o->weakrefs)
        PyObject_ClearWeakRefs(self);
    registry_remove(o);
    usocket_release(o->s);
    Py_TYPE(self)->tp_free(self);
}

/* --- methods ------------------------------------------------------------------------------------ */

static PyObject *count_or_raise(ssize_t n)
{
    if (n == UPY_NONE)
        Py_RETURN_NONE;
    return n < 0 ? upyext_raise() : PyLong_FromSsize_t(n);
}

static PyObject *sock_close(PyObject *self, PyObject *unused)
{
    int rc;
    UPYEXT_NOGIL(rc = usocket_close(SOCK(self))); /* an SSL close sends close_notify */
    return upyext_none_or_raise(rc);
}

static PyObject *sock_bind(PyObject *self, PyObject *arg)
{
    usocket_addr a;
    if (upyext_get_addr(arg, &a) < 0)
        return NULL;
    int rc;
    UPYEXT_NOGIL(rc = usocket_bind(SOCK(self), &a));
    return upyext_none_or_raise(rc);
}

static PyObject *sock_listen(PyObject *self, PyObject *const *args, Py_ssize_t n)
{
    long backlog = 0;
    if (!_PyArg_CheckPositional("listen", n, 0, 1) || (n == 1 && upyext_get_int(args[0], &backlog) < 0))
        return NULL;
    return upyext_none_or_raise(usocket_listen(SOCK(self), (int)backlog));
}

static PyObject *sock_accept(PyObject *self, PyObject *unused)
{
    usocket_addr peer;
    usocket *c;
    UPYEXT_NOGIL(c = usocket_accept(SOCK(self), &peer));
    if (!c)
        return upyext_raise();
    PyObject *child = upyext_sock_wrap(c, upyext_socket_type);
    return child ? Py_BuildValue("(N(si))", child, peer.ip, peer.port) : NULL;
}

static PyObject *sock_connect(PyObject *self, PyObject *arg)
{
    usocket_addr a;
    if (upyext_get_addr(arg, &a) < 0)
        return NULL;
    int rc;
    UPYEXT_NOGIL(rc = usocket_connect(SOCK(self), &a));
    return upyext_none_or_raise(rc);
}

/* send(buf) and sendall(buf): one function on the board. */
static PyObject *sock_send(PyObject *self, PyObject *arg)
{
    Py_buffer b;
    if (upyext_get_read_buffer(arg, &b) < 0)
        return NULL;
    ssize_t n;
    UPYEXT_NOGIL(n = usocket_send(SOCK(self), b.buf, (size_t)b.len));
    PyBuffer_Release(&b);
    return count_or_raise(n);
}

static PyObject *sock_sendto(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    usocket_addr to;
    Py_buffer b;
    if (!_PyArg_CheckPositional("sendto", nargs, 2, 2) || upyext_get_addr(args[1], &to) < 0 ||
        upyext_get_read_buffer(args[0], &b) < 0)
        return NULL;
    ssize_t n;
    UPYEXT_NOGIL(n = usocket_sendto(SOCK(self), b.buf, (size_t)b.len, &to));
    PyBuffer_Release(&b);
    return count_or_raise(n);
}

/* A bytes object for up to `n` bytes, or NULL with ValueError for a negative size. */
static PyObject *new_buffer(PyObject *arg, const char *what, long *n)
{
    if (upyext_get_int(arg, n) < 0)
        return NULL;
    if (*n < 0) {
        PyErr_Format(PyExc_ValueError, "negative buffersize in %s", what);
        return NULL;
    }
    return PyBytes_FromStringAndSize(NULL, *n);
}

/* Shrink a receive buffer to what arrived; NULL (and the buffer dropped) on failure. */
static PyObject *finish_buffer(PyObject *b, ssize_t got)
{
    if (got < 0) {
        Py_DECREF(b);
        return upyext_raise();
    }
    if (got != PyBytes_GET_SIZE(b) && _PyBytes_Resize(&b, got) < 0)
        return NULL;
    return b;
}

static PyObject *sock_recv(PyObject *self, PyObject *arg)
{
    long n;
    PyObject *b = new_buffer(arg, "recv", &n);
    if (!b)
        return NULL;
    ssize_t got;
    UPYEXT_NOGIL(got = usocket_recv(SOCK(self), PyBytes_AS_STRING(b), (size_t)n));
    return finish_buffer(b, got);
}

static PyObject *sock_recvfrom(PyObject *self, PyObject *arg)
{
    long n;
    PyObject *b = new_buffer(arg, "recvfrom", &n);
    if (!b)
        return NULL;
    usocket_addr from;
    ssize_t got;
    UPYEXT_NOGIL(got = usocket_recvfrom(SOCK(self), PyBytes_AS_STRING(b), (size_t)n, &from));
    b = finish_buffer(b, got);
    return b ? Py_BuildValue("(N(si))", b, from.ip, from.port) : NULL;
}

static PyObject *sock_setsockopt(PyObject *self, PyObject *const *args, Py_ssize_t n)
{
    long level, opt, value;
    if (!_PyArg_CheckPositional("setsockopt", n, 3, 3) || upyext_get_int(args[0], &level) < 0 ||
        upyext_get_int(args[1], &opt) < 0)
        return NULL;
    if (PyLong_Check(args[2])) { /* bool included, as mp_obj_get_int_truncated takes it */
        if (upyext_get_int_truncated(args[2], &value) < 0)
            return NULL;
        return upyext_none_or_raise(usocket_setsockopt_int(SOCK(self), (int)level, (int)opt, (int)value));
    }
    Py_buffer b;
    if (upyext_get_read_buffer(args[2], &b) < 0)
        return NULL;
    int rc = usocket_setsockopt(SOCK(self), (int)level, (int)opt, b.buf, (size_t)b.len);
    PyBuffer_Release(&b);
    return upyext_none_or_raise(rc);
}

static PyObject *sock_settimeout(PyObject *self, PyObject *arg)
{
    double t = USOCKET_TIMEOUT_NONE;
    if (arg != Py_None && upyext_get_float(arg, &t) < 0)
        return NULL;
    return upyext_none_or_raise(usocket_settimeout(SOCK(self), t));
}

static PyObject *sock_setblocking(PyObject *self, PyObject *arg)
{
    int flag = PyObject_IsTrue(arg);
    return flag < 0 ? NULL : upyext_none_or_raise(usocket_setblocking(SOCK(self), flag));
}

/* makefile(mode='rb', ...): the socket itself; arguments after the mode are ignored. */
static PyObject *sock_makefile(PyObject *self, PyObject *const *args, Py_ssize_t n)
{
    const char *mode = NULL;
    if (!_PyArg_CheckPositional("makefile", n, 0, 5) || (n >= 1 && !(mode = upyext_get_str(args[0]))))
        return NULL;
    if (!usocket_makefile(SOCK(self), mode))
        return upyext_raise();
    return Py_NewRef(self);
}

static PyObject *sock_fileno(PyObject *self, PyObject *unused)
{
    return PyLong_FromLong(usocket_fileno(SOCK(self)));
}

/* The stream calls' optional size: absent, None or negative means "no limit". */
static int get_size(PyObject *const *args, Py_ssize_t n, Py_ssize_t i, long *size)
{
    *size = -1;
    return (n > i && args[i] != Py_None) ? upyext_get_int(args[i], size) : 0;
}

typedef ssize_t (*stream_call)(usocket *s, void *buf, size_t n);

/* read() or readline() without a limit: chunk after chunk until a short one (EOF, would-block,
 * or for readline the end of the line). Nothing at all before would-block → None. */
static PyObject *read_unbounded(usocket *s, stream_call call, bool line)
{
    Py_ssize_t size = 0, cap = 256;
    PyObject *b = PyBytes_FromStringAndSize(NULL, cap);
    for (ssize_t got = 0; b; size += got) {
        if (size == cap && _PyBytes_Resize(&b, cap *= 2) < 0)
            return NULL;
        char *at = PyBytes_AS_STRING(b) + size;
        UPYEXT_NOGIL(got = call(s, at, (size_t)(cap - size)));
        if (got == UPY_NONE && size == 0) {
            Py_DECREF(b);
            Py_RETURN_NONE;
        }
        if (got == UPY_NONE || got == 0 || (got > 0 && got < cap - size) || (line && got > 0 && at[got - 1] == '\n'))
            return finish_buffer(b, size + (got > 0 ? got : 0));
        if (got < 0)
            return finish_buffer(b, -1);
    }
    return NULL;
}

static PyObject *read_bounded(usocket *s, stream_call call, long n)
{
    PyObject *b = PyBytes_FromStringAndSize(NULL, n);
    if (!b)
        return NULL;
    ssize_t got;
    UPYEXT_NOGIL(got = call(s, PyBytes_AS_STRING(b), (size_t)n));
    if (got == UPY_NONE) {
        Py_DECREF(b);
        Py_RETURN_NONE;
    }
    return finish_buffer(b, got);
}

static PyObject *sock_read(PyObject *self, PyObject *const *args, Py_ssize_t n)
{
    long size;
    if (!_PyArg_CheckPositional("read", n, 0, 1) || get_size(args, n, 0, &size) < 0)
        return NULL;
    return size < 0 ? read_unbounded(SOCK(self), usocket_read, false) : read_bounded(SOCK(self), usocket_read, size);
}

static PyObject *sock_readline(PyObject *self, PyObject *const *args, Py_ssize_t n)
{
    long size;
    if (!_PyArg_CheckPositional("readline", n, 0, 1) || get_size(args, n, 0, &size) < 0)
        return NULL;
    return size < 0 ? read_unbounded(SOCK(self), usocket_readline, true)
                    : read_bounded(SOCK(self), usocket_readline, size);
}

/* readinto(buf[, n]) */
static PyObject *sock_readinto(PyObject *self, PyObject *const *args, Py_ssize_t n)
{
    long size;
    Py_buffer b;
    if (!_PyArg_CheckPositional("readinto", n, 1, 2) || get_size(args, n, 1, &size) < 0)
        return NULL;
    if (PyObject_GetBuffer(args[0], &b, PyBUF_WRITABLE) < 0) {
        PyErr_Clear();
        PyErr_SetString(PyExc_TypeError, "object with buffer protocol required");
        return NULL;
    }
    size_t len = (size >= 0 && size < b.len) ? (size_t)size : (size_t)b.len;
    ssize_t got;
    UPYEXT_NOGIL(got = usocket_readinto(SOCK(self), b.buf, len));
    PyBuffer_Release(&b);
    return count_or_raise(got);
}

/* write(buf[, max_len]) or write(buf, off, max_len), as py/stream.c. */
static PyObject *sock_write(PyObject *self, PyObject *const *args, Py_ssize_t n)
{
    long off = 0, max = -1;
    Py_buffer b;
    if (!_PyArg_CheckPositional("write", n, 1, 3) ||
        (n == 2 && upyext_get_int_truncated(args[1], &max) < 0) ||
        (n == 3 && (upyext_get_int_truncated(args[1], &off) < 0 || upyext_get_int_truncated(args[2], &max) < 0)) ||
        upyext_get_read_buffer(args[0], &b) < 0)
        return NULL;
    size_t start = (size_t)off > (size_t)b.len ? (size_t)b.len : (size_t)off;
    size_t len = (size_t)b.len - start;
    if ((size_t)max < len)
        len = (size_t)max;
    ssize_t sent;
    UPYEXT_NOGIL(sent = usocket_write(SOCK(self), (char *)b.buf + start, len));
    PyBuffer_Release(&b);
    return count_or_raise(sent);
}

static PyObject *sock_do_handshake(PyObject *self, PyObject *unused)
{
    int rc;
    UPYEXT_NOGIL(rc = ussl_do_handshake(SOCK(self)));
    return upyext_none_or_raise(rc);
}

static PyMethodDef sock_methods[] = {
    {"close", sock_close, METH_NOARGS, "close(): idempotent; later I/O raises OSError(9)."},
    {"__del__", sock_close, METH_NOARGS, "The board's finaliser: close()."},
    {"bind", sock_bind, METH_O, "bind((ip, port))"},
    {"listen", (PyCFunction)(void (*)(void))sock_listen, METH_FASTCALL, "listen([backlog])"},
    {"accept", sock_accept, METH_NOARGS, "accept() -> (socket, (ip, port))"},
    {"connect", sock_connect, METH_O, "connect((ip, port))"},
    {"send", sock_send, METH_O, "send(buf) -> bytes queued; str is sent as UTF-8"},
    {"sendall", sock_send, METH_O, "sendall(buf): the same function as send() on the board"},
    {"sendto", (PyCFunction)(void (*)(void))sock_sendto, METH_FASTCALL, "sendto(buf, (ip, port))"},
    {"recv", sock_recv, METH_O, "recv(bufsize) -> bytes (at most 2048 on plain sockets)"},
    {"recvfrom", sock_recvfrom, METH_O, "recvfrom(bufsize) -> (bytes, (ip, port))"},
    {"setsockopt", (PyCFunction)(void (*)(void))sock_setsockopt, METH_FASTCALL, "setsockopt(level, opt, value)"},
    {"settimeout", sock_settimeout, METH_O, "settimeout(None | seconds)"},
    {"setblocking", sock_setblocking, METH_O, "setblocking(flag)"},
    {"makefile", (PyCFunction)(void (*)(void))sock_makefile, METH_FASTCALL, "makefile(mode='rb') -> the socket itself"},
    {"fileno", sock_fileno, METH_NOARGS, "fileno() -> the device descriptor number (54..), -1 after close"},
    {"read", (PyCFunction)(void (*)(void))sock_read, METH_FASTCALL, "read([n]) -> bytes, or None"},
    {"readinto", (PyCFunction)(void (*)(void))sock_readinto, METH_FASTCALL, "readinto(buf[, n]) -> int, or None"},
    {"readline", (PyCFunction)(void (*)(void))sock_readline, METH_FASTCALL, "readline([limit]) -> bytes, or None"},
    {"write", (PyCFunction)(void (*)(void))sock_write, METH_FASTCALL, "write(buf[, off, len]) -> int, or None"},
    {"do_handshake", sock_do_handshake, METH_NOARGS, "do_handshake(): run the TLS handshake to its end"},
    {NULL, NULL, 0, NULL},
};

#define SOCK_TYPE(pyname, doc)                                                         \
    {                                                                                  \
        PyVarObject_HEAD_INIT(NULL, 0).tp_name = pyname,                               \
        .tp_basicsize = sizeof(upyext_sock), .tp_dealloc = sock_dealloc,               \
        .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, .tp_doc = doc,           \
        .tp_weaklistoffset = offsetof(upyext_sock, weakrefs), .tp_methods = sock_methods \
    }

static PyTypeObject socket_type = SOCK_TYPE("socket", "socket(af=AF_INET, type=SOCK_STREAM, proto=IPPROTO_TCP)");
static PyTypeObject ssl_type = SOCK_TYPE("ussl", "A TLS socket, made by ussl.wrap_socket().");

/* --- module functions ------------------------------------------------------------------------- */

/* getaddrinfo(host, port, *ignored) -> [(2, 1, 0, '', (ip, port))] */
static PyObject *mod_getaddrinfo(PyObject *mod, PyObject *const *args, Py_ssize_t n)
{
    long port;
    const char *host;
    if (!_PyArg_CheckPositional("getaddrinfo", n, 2, 6) || !(host = upyext_get_str(args[0])) ||
        upyext_get_int(args[1], &port) < 0)
        return NULL;
    usocket_addrinfo ai;
    int rc;
    UPYEXT_NOGIL(rc = usocket_getaddrinfo(host, (int)port, &ai));
    if (rc < 0)
        return upyext_raise();
    return Py_BuildValue("[(iiis(si))]", ai.family, ai.socktype, ai.proto, ai.canonname, ai.sockaddr.ip,
                         ai.sockaddr.port);
}

/* The board's index check: a small int, else ValueError("invalid argument(s) num/type"). */
static int dns_index(PyObject *o, long *i)
{
    if (!PyLong_Check(o) || PyBool_Check(o) || upyext_get_int(o, i) < 0 || *i >= (1L << 30) || *i < -(1L << 30)) {
        PyErr_Clear();
        PyErr_SetString(PyExc_ValueError, "invalid argument(s) num/type");
        return -1;
    }
    return 0;
}

/* dnsserver() -> (ip0, ip1); dnsserver(i) -> (i & 0xFF, ip); dnsserver(i, ip) -> None */
static PyObject *mod_dnsserver(PyObject *mod, PyObject *const *args, Py_ssize_t n)
{
    char ip0[16], ip1[16];
    long i;
    if (!_PyArg_CheckPositional("dnsserver", n, 0, 2))
        return NULL;
    if (n == 0) {
        if (usocket_dnsserver(0, ip0) < 0 || usocket_dnsserver(1, ip1) < 0)
            return upyext_raise();
        return Py_BuildValue("(ss)", ip0, ip1);
    }
    if (dns_index(args[0], &i) < 0)
        return NULL;
    if (n == 1) {
        int first = usocket_dnsserver((int)i, ip0);
        return first < 0 ? upyext_raise() : Py_BuildValue("(is)", first, ip0);
    }
    const char *ip = upyext_get_str(args[1]);
    return ip ? upyext_none_or_raise(usocket_dnsserver_set((int)i, ip)) : NULL;
}

static PyMethodDef module_methods[] = {
    {"getaddrinfo", (PyCFunction)(void (*)(void))mod_getaddrinfo, METH_FASTCALL,
     "getaddrinfo(host, port) -> [(2, 1, 0, '', (ip, port))]"},
    {"dnsserver", (PyCFunction)(void (*)(void))mod_dnsserver, METH_FASTCALL, "dnsserver([i[, ip]])"},
    {NULL, NULL, 0, NULL},
};

static const upyext_const constants[] = {
    {"AF_INET", USOCKET_AF_INET},
    {"AF_LORA", USOCKET_AF_LORA},
    {"AF_SIGFOX", USOCKET_AF_SIGFOX},
    {"SOCK_STREAM", USOCKET_SOCK_STREAM},
    {"SOCK_DGRAM", USOCKET_SOCK_DGRAM},
    {"SOCK_RAW", USOCKET_SOCK_RAW},
    {"IPPROTO_IP", USOCKET_IPPROTO_IP},
    {"IPPROTO_ICMP", USOCKET_IPPROTO_ICMP},
    {"IPPROTO_TCP", USOCKET_IPPROTO_TCP},
    {"IPPROTO_UDP", USOCKET_IPPROTO_UDP},
    {"IPPROTO_IPV6", USOCKET_IPPROTO_IPV6},
    {"IPPROTO_RAW", USOCKET_IPPROTO_RAW},
    {"SOL_SOCKET", USOCKET_SOL_SOCKET},
    {"SO_REUSEADDR", USOCKET_SO_REUSEADDR},
    {"IP_ADD_MEMBERSHIP", USOCKET_IP_ADD_MEMBERSHIP},
    {NULL, 0},
};

int upyext_socket_init(PyObject *module)
{
    socket_type.tp_new = sock_new;
    if (PyType_Ready(&socket_type) < 0 || PyType_Ready(&ssl_type) < 0)
        return -1;
    upyext_socket_type = &socket_type;
    upyext_ssl_type = &ssl_type;
    PyObject *m = upyext_submodule(module, "usocket", module_methods);
    if (!m || upyext_add_consts(m, constants) < 0)
        return -1;
    if (PyModule_AddObjectRef(m, "socket", (PyObject *)&socket_type) < 0 ||
        PyModule_AddObjectRef(m, "error", PyExc_OSError) < 0 || PyModule_AddObjectRef(m, "timeout", PyExc_TimeoutError) < 0)
        return -1;
    return 0;
}
