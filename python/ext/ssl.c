/*
 * ussl: wrap_socket, save_session and the constants. ssl.SSLError is OSError itself, as on the
 * board, so `except ssl.SSLError` also catches the binding's OSError (a subclass).
 */
#include "upysock_ext.h"

typedef struct {
    PyObject_HEAD
    ussl_session *session;
} session_obj;

static void session_dealloc(session_obj *o)
{
    ussl_session_release(o->session);
    Py_TYPE(o)->tp_free(o);
}

static PyTypeObject session_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "SSLSession",
    .tp_basicsize = sizeof(session_obj),
    .tp_dealloc = (destructor)session_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A TLS session from save_session(), for wrap_socket(saved_session=...).",
};

static PyObject *invalid_value(void)
{
    PyErr_SetString(PyExc_ValueError, "invalid argument(s) value");
    return NULL;
}

/* A path or name keyword: None → NULL, else str/bytes. */
static int opt_str(PyObject *o, const char **out)
{
    *out = NULL;
    return (o == Py_None || (*out = upyext_get_str(o))) ? 0 : -1;
}

static int opt_int(PyObject *o, int *out, int if_none)
{
    long v = if_none;
    if (o != Py_None && upyext_get_int(o, &v) < 0)
        return -1;
    *out = (int)v;
    return 0;
}

/* wrap_socket(sock, *, keyfile, certfile, server_side, cert_reqs, ssl_version, ca_certs,
 * server_hostname, saved_session, timeout) */
static PyObject *mod_wrap_socket(PyObject *mod, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"sock", "keyfile", "certfile", "server_side", "cert_reqs", "ssl_version",
                             "ca_certs", "server_hostname", "saved_session", "timeout", NULL};
    PyObject *sock, *keyfile = Py_None, *certfile = Py_None, *server_side = Py_False, *cert_reqs = Py_None,
                    *ssl_version = Py_None, *ca_certs = Py_None, *hostname = Py_None, *session = Py_None,
                    *timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$OOOOOOOOO:wrap_socket", kwlist, &sock, &keyfile, &certfile,
                                     &server_side, &cert_reqs, &ssl_version, &ca_certs, &hostname, &session, &timeout))
        return NULL;
    usocket *s = upyext_sock_handle(sock);
    if (!s) {
        PyErr_Format(PyExc_TypeError, "wrap_socket needs a socket, not '%s'", Py_TYPE(sock)->tp_name);
        return NULL;
    }
    ussl_options o = {0};
    int side = PyObject_IsTrue(server_side);
    if (side < 0 || opt_str(keyfile, &o.keyfile) < 0 || opt_str(certfile, &o.certfile) < 0 ||
        opt_str(ca_certs, &o.ca_certs) < 0 || opt_str(hostname, &o.server_hostname) < 0 ||
        opt_int(cert_reqs, &o.cert_reqs, USSL_CERT_NONE) < 0 || opt_int(ssl_version, &o.ssl_version, 0) < 0 ||
        opt_int(timeout, &o.timeout, 0) < 0)
        return NULL;
    o.server_side = side;
    if (session != Py_None) {
        if (!PyObject_TypeCheck(session, &session_type))
            return invalid_value();
        o.saved_session = ((session_obj *)session)->session;
    }
    usocket *ss;
    UPYEXT_NOGIL(ss = ussl_wrap_socket(s, &o)); /* the handshake runs here when sock is connected */
    return ss ? upyext_sock_wrap(ss, upyext_ssl_type) : upyext_raise();
}

/* save_session(sock) -> SSLSession; a non-socket is refused like a plain socket, OSError(22). */
static PyObject *mod_save_session(PyObject *mod, PyObject *sock)
{
    usocket *s = upyext_sock_handle(sock);
    if (!s)
        return upyext_raise_errno(UERRNO_EINVAL);
    ussl_session *session = ussl_save_session(s);
    if (!session)
        return upyext_raise();
    session_obj *o = PyObject_New(session_obj, &session_type);
    if (!o) {
        ussl_session_release(session);
        return NULL;
    }
    o->session = session;
    return (PyObject *)o;
}

static PyMethodDef module_methods[] = {
    {"wrap_socket", (PyCFunction)(void (*)(void))mod_wrap_socket, METH_VARARGS | METH_KEYWORDS,
     "wrap_socket(sock, *, keyfile=None, certfile=None, server_side=False, cert_reqs=CERT_NONE, ssl_version=0, "
     "ca_certs=None, server_hostname=None, saved_session=None, timeout=None)"},
    {"save_session", mod_save_session, METH_O, "save_session(ssl_sock) -> SSLSession"},
    {NULL, NULL, 0, NULL},
};

static const upyext_const constants[] = {
    {"CERT_NONE", USSL_CERT_NONE},
    {"CERT_OPTIONAL", USSL_CERT_OPTIONAL},
    {"CERT_REQUIRED", USSL_CERT_REQUIRED},
    {"SSL_TIMEOUT", USSL_SSL_TIMEOUT},
    {NULL, 0},
};

int upyext_ssl_init(PyObject *module)
{
    if (PyType_Ready(&session_type) < 0)
        return -1;
    PyObject *m = upyext_submodule(module, "ussl", module_methods);
    if (!m || upyext_add_consts(m, constants) < 0)
        return -1;
    return PyModule_AddObjectRef(m, "SSLError", PyExc_OSError);
}
