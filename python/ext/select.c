/*
 * uselect: poll objects and select().
 *
 * poll() must hand back the registered Python object itself (the tutorials call t[0].close()).
 * A poll object therefore keeps a dict from handle address to the object it registered: it
 * holds the object alive as the board's poll map does, and maps each event's handle back. A
 * handle unregistered by another thread while this one waited is simply not in the dict any
 * more, and its event is dropped instead of naming an object that may be gone.
 */
#include "upysock_ext.h"

typedef struct {
    PyObject_HEAD
    uselect_poller *p;
    PyObject *registered; /* {handle address: object} */
} poll_obj;

static PyObject *not_a_stream(void)
{
    PyErr_SetString(upyext_OSError, "stream operation not supported");
    return NULL;
}

static PyObject *handle_key(usocket *s)
{
    return PyLong_FromVoidPtr(s);
}

static PyObject *poll_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    if (!_PyArg_NoKeywords("poll", kwargs) || !_PyArg_CheckPositional("poll", PyTuple_GET_SIZE(args), 0, 0))
        return NULL;
    poll_obj *o = (poll_obj *)type->tp_alloc(type, 0);
    if (!o)
        return NULL;
    o->registered = PyDict_New();
    o->p = uselect_poll();
    if (!o->registered || !o->p) {
        if (o->registered)
            upyext_raise();
        Py_DECREF(o);
        return NULL;
    }
    return (PyObject *)o;
}

static int poll_traverse(poll_obj *o, visitproc visit, void *arg)
{
    Py_VISIT(o->registered);
    return 0;
}

static int poll_clear(poll_obj *o)
{
    Py_CLEAR(o->registered);
    return 0;
}

static void poll_dealloc(poll_obj *o)
{
    PyObject_GC_UnTrack(o);
    if (o->p)
        uselect_poll_free(o->p); /* drops the library's references before the objects go */
    poll_clear(o);
    Py_TYPE(o)->tp_free(o);
}

/* register(obj[, mask=POLLIN|POLLOUT]) */
static PyObject *poll_register(poll_obj *o, PyObject *const *args, Py_ssize_t n)
{
    long mask = USELECT_POLL_DEFAULT;
    if (!_PyArg_CheckPositional("register", n, 1, 2) || (n == 2 && upyext_get_int(args[1], &mask) < 0))
        return NULL;
    usocket *s = upyext_sock_handle(args[0]);
    if (!s)
        return not_a_stream();
    PyObject *key = handle_key(s);
    if (!key)
        return NULL;
    int rc = uselect_poll_register(o->p, s, (int)mask);
    if (rc == 0)
        rc = PyDict_SetItem(o->registered, key, args[0]);
    else
        upyext_raise();
    Py_DECREF(key);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* modify(obj, mask): an object never registered → OSError(2), as the library says. */
static PyObject *poll_modify(poll_obj *o, PyObject *const *args, Py_ssize_t n)
{
    long mask;
    if (!_PyArg_CheckPositional("modify", n, 2, 2) || upyext_get_int(args[1], &mask) < 0)
        return NULL;
    usocket *s = upyext_sock_handle(args[0]);
    if (!s)
        return upyext_raise_errno(UERRNO_ENOENT);
    if (uselect_poll_modify(o->p, s, (int)mask) < 0)
        return upyext_raise();
    Py_RETURN_NONE;
}

static PyObject *poll_unregister(poll_obj *o, PyObject *obj)
{
    usocket *s = upyext_sock_handle(obj);
    if (!s)
        Py_RETURN_NONE;
    uselect_poll_unregister(o->p, s);
    PyObject *key = handle_key(s);
    if (!key)
        return NULL;
    if (PyDict_DelItem(o->registered, key) < 0)
        PyErr_Clear(); /* not registered: ignored, as on the board */
    Py_DECREF(key);
    Py_RETURN_NONE;
}

/* The (timeout_ms, flags) of poll() and ipoll(): None or negative waits forever. */
static int poll_args(const char *name, PyObject *const *args, Py_ssize_t n, int *timeout, int *flags)
{
    long t = -1, f = 0;
    if (!_PyArg_CheckPositional(name, n, 0, 2) || (n >= 1 && args[0] != Py_None && upyext_get_int(args[0], &t) < 0) ||
        (n == 2 && upyext_get_int(args[1], &f) < 0))
        return -1;
    *timeout = t < 0 ? -1 : (t > INT_MAX ? INT_MAX : (int)t);
    *flags = (int)f;
    return 0;
}

/* (obj, revents) for an event, or NULL without an exception if its object left meanwhile. */
static PyObject *event_pair(poll_obj *o, const uselect_event *e)
{
    PyObject *key = handle_key(e->obj);
    if (!key)
        return NULL;
    PyObject *obj = PyDict_GetItemWithError(o->registered, key);
    Py_DECREF(key);
    return obj ? Py_BuildValue("(Oi)", obj, e->revents) : NULL;
}

/* Append the pair for e to list; -1 on a Python error. */
static int append_event(poll_obj *o, PyObject *list, const uselect_event *e)
{
    PyObject *pair = event_pair(o, e);
    if (!pair)
        return PyErr_Occurred() ? -1 : 0;
    int rc = PyList_Append(list, pair);
    Py_DECREF(pair);
    return rc;
}

enum { STACK_EVENTS = 64 };

static PyObject *poll_poll(poll_obj *o, PyObject *const *args, Py_ssize_t n)
{
    int timeout, flags;
    if (poll_args("poll", args, n, &timeout, &flags) < 0)
        return NULL;
    uselect_event stack_events[STACK_EVENTS], *events = stack_events;
    Py_ssize_t max = PyDict_GET_SIZE(o->registered);
    if (max > STACK_EVENTS && !(events = PyMem_RawMalloc((size_t)max * sizeof *events)))
        return PyErr_NoMemory();
    if (max < 1)
        max = 1;
    int got;
    UPYEXT_NOGIL(got = uselect_poll_poll(o->p, timeout, flags, events, (int)(max > INT_MAX ? INT_MAX : max)));
    PyObject *list = got < 0 ? upyext_raise() : PyList_New(0);
    for (int i = 0; list && i < got; i++)
        if (append_event(o, list, &events[i]) < 0)
            Py_CLEAR(list);
    if (events != stack_events)
        PyMem_RawFree(events);
    return list;
}

/* ipoll(): waits like poll() and returns the poll object to iterate; each step takes the
 * library's next pair, so with one-shot an entry is disarmed as it is yielded, as on the board.
 * The board reuses one tuple for every pair; here each pair is a new tuple (CPython tuples are
 * immutable). */
static PyObject *poll_ipoll(poll_obj *o, PyObject *const *args, Py_ssize_t n)
{
    int timeout, flags, got;
    if (poll_args("ipoll", args, n, &timeout, &flags) < 0)
        return NULL;
    UPYEXT_NOGIL(got = uselect_poll_ipoll(o->p, timeout, flags));
    return got < 0 ? upyext_raise() : Py_NewRef(o);
}

static PyObject *poll_iternext(poll_obj *o)
{
    for (const uselect_event *e; (e = uselect_poll_next(o->p));) {
        PyObject *pair = event_pair(o, e);
        if (pair || PyErr_Occurred())
            return pair;
    }
    return NULL;
}

static PyMethodDef poll_methods[] = {
    {"register", (PyCFunction)(void (*)(void))poll_register, METH_FASTCALL, "register(obj[, mask])"},
    {"modify", (PyCFunction)(void (*)(void))poll_modify, METH_FASTCALL, "modify(obj, mask)"},
    {"unregister", (PyCFunction)poll_unregister, METH_O, "unregister(obj)"},
    {"poll", (PyCFunction)(void (*)(void))poll_poll, METH_FASTCALL, "poll([timeout_ms[, flags]]) -> [(obj, revents)]"},
    {"ipoll", (PyCFunction)(void (*)(void))poll_ipoll, METH_FASTCALL, "ipoll([timeout_ms[, flags]]) -> iterator"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject poll_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "poll",
    .tp_basicsize = sizeof(poll_obj),
    .tp_dealloc = (destructor)poll_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "uselect.poll()",
    .tp_traverse = (traverseproc)poll_traverse,
    .tp_clear = (inquiry)poll_clear,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)poll_iternext,
    .tp_methods = poll_methods,
    .tp_new = poll_new,
};

/* --- select() ---------------------------------------------------------------------------------- */

/* One of select()'s lists: the objects (kept alive) and their handles. */
typedef struct {
    PyObject *objs; /* a tuple */
    usocket **handles;
    int n;
} select_list;

static int select_list_get(PyObject *arg, select_list *l, PyObject *by_handle)
{
    if (upyext_check_tuple_or_list(arg) < 0 || !(l->objs = PySequence_Tuple(arg)))
        return -1;
    l->n = (int)PyTuple_GET_SIZE(l->objs);
    if (!(l->handles = PyMem_RawMalloc(((size_t)l->n + 1) * sizeof *l->handles))) {
        PyErr_NoMemory();
        return -1;
    }
    for (int i = 0; i < l->n; i++) {
        PyObject *obj = PyTuple_GET_ITEM(l->objs, i), *key;
        if (!(l->handles[i] = upyext_sock_handle(obj))) {
            not_a_stream();
            return -1;
        }
        if (!(key = handle_key(l->handles[i])) || PyDict_SetItem(by_handle, key, obj) < 0) {
            Py_XDECREF(key);
            return -1;
        }
        Py_DECREF(key);
    }
    return 0;
}

static PyObject *select_result(const select_list *l, PyObject *by_handle)
{
    PyObject *list = PyList_New(l->n);
    for (int i = 0; list && i < l->n; i++) {
        PyObject *key = handle_key(l->handles[i]);
        PyObject *obj = key ? PyDict_GetItemWithError(by_handle, key) : NULL;
        Py_XDECREF(key);
        if (!obj) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, Py_NewRef(obj));
    }
    return list;
}

/* select(rlist, wlist, xlist[, timeout_s]) -> (r, w, x) */
static PyObject *mod_select(PyObject *mod, PyObject *const *args, Py_ssize_t n)
{
    double timeout = -1;
    if (!_PyArg_CheckPositional("select", n, 3, 4) || (n == 4 && args[3] != Py_None && upyext_get_float(args[3], &timeout) < 0))
        return NULL;
    select_list l[3] = {{0}};
    PyObject *by_handle = PyDict_New(), *result = NULL;
    int ok = by_handle != NULL;
    for (int i = 0; ok && i < 3; i++)
        ok = select_list_get(args[i], &l[i], by_handle) == 0;
    if (ok) {
        int rc;
        UPYEXT_NOGIL(rc = uselect_select(l[0].handles, &l[0].n, l[1].handles, &l[1].n, l[2].handles, &l[2].n, timeout));
        result = rc < 0 ? upyext_raise()
                        : Py_BuildValue("(NNN)", select_result(&l[0], by_handle), select_result(&l[1], by_handle),
                                        select_result(&l[2], by_handle));
    }
    for (int i = 0; i < 3; i++) {
        Py_XDECREF(l[i].objs);
        PyMem_RawFree(l[i].handles);
    }
    Py_XDECREF(by_handle);
    return result;
}

static PyMethodDef module_methods[] = {
    {"select", (PyCFunction)(void (*)(void))mod_select, METH_FASTCALL, "select(r, w, x[, timeout_s]) -> (r, w, x)"},
    {NULL, NULL, 0, NULL},
};

static const upyext_const constants[] = {
    {"POLLIN", USELECT_POLLIN},
    {"POLLOUT", USELECT_POLLOUT},
    {"POLLERR", USELECT_POLLERR},
    {"POLLHUP", USELECT_POLLHUP},
    {NULL, 0},
};

int upyext_select_init(PyObject *module)
{
    if (PyType_Ready(&poll_type) < 0)
        return -1;
    PyObject *m = upyext_submodule(module, "uselect", module_methods);
    if (!m || upyext_add_consts(m, constants) < 0)
        return -1;
    return PyModule_AddObjectRef(m, "poll", (PyObject *)&poll_type);
}
