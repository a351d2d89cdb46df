/*
 * Python arguments → C arguments, failing with the messages MicroPython 1.11's converters give
 * (py/obj.c mp_obj_get_int / mp_obj_get_float / mp_obj_get_array, py/objstr.c), so a script
 * that passes the wrong type sees the board's TypeError rather than CPython's.
 */
#include "upysock_ext.h"

#include <string.h>

int upyext_get_int(PyObject *o, long *out)
{
    if (!PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "can't convert %s to int", Py_TYPE(o)->tp_name);
        return -1;
    }
    *out = PyLong_AsLong(o);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

int upyext_get_int_truncated(PyObject *o, long *out)
{
    if (!PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "can't convert %s to int", Py_TYPE(o)->tp_name);
        return -1;
    }
    *out = (long)PyLong_AsUnsignedLongMask(o);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

int upyext_get_float(PyObject *o, double *out)
{
    if (!PyFloat_Check(o) && !PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "can't convert %s to float", Py_TYPE(o)->tp_name);
        return -1;
    }
    *out = PyFloat_AsDouble(o);
    return (*out == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

int upyext_get_read_buffer(PyObject *o, Py_buffer *view)
{
    if (PyUnicode_Check(o)) {
        Py_ssize_t len;
        const char *text = PyUnicode_AsUTF8AndSize(o, &len);
        return text ? PyBuffer_FillInfo(view, o, (void *)text, len, 1, PyBUF_SIMPLE) : -1;
    }
    if (PyObject_GetBuffer(o, view, PyBUF_SIMPLE) == 0)
        return 0;
    PyErr_SetString(PyExc_TypeError, "object with buffer protocol required");
    return -1;
}

const char *upyext_get_str(PyObject *o)
{
    if (PyUnicode_Check(o))
        return PyUnicode_AsUTF8(o);
    if (PyBytes_Check(o))
        return PyBytes_AS_STRING(o);
    PyErr_Format(PyExc_TypeError, "can't convert '%s' object to str implicitly", Py_TYPE(o)->tp_name);
    return NULL;
}

int upyext_check_tuple_or_list(PyObject *o)
{
    if (PyTuple_Check(o) || PyList_Check(o))
        return 0;
    PyErr_Format(PyExc_TypeError, "object '%s' isn't a tuple or list", Py_TYPE(o)->tp_name);
    return -1;
}

int upyext_get_addr(PyObject *o, usocket_addr *out)
{
    if (upyext_check_tuple_or_list(o) < 0)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(o);
    if (n != 2) {
        PyErr_Format(PyExc_ValueError, "requested length 2 but object has length %zd", n);
        return -1;
    }
    PyObject *host = PySequence_Fast_GET_ITEM(o, 0), *port = PySequence_Fast_GET_ITEM(o, 1);
    const char *ip = upyext_get_str(host);
    long p;
    if (!ip || upyext_get_int(port, &p) < 0)
        return -1;
    if (strlen(ip) >= sizeof out->ip) { /* longer than any dotted quad: a hostname */
        PyErr_SetString(PyExc_ValueError, "invalid arguments");
        return -1;
    }
    strcpy(out->ip, ip);
    out->port = (int)p;
    return 0;
}

PyObject *upyext_addr_tuple(const usocket_addr *a)
{
    return Py_BuildValue("(si)", a->ip, a->port);
}

int upyext_add_consts(PyObject *m, const upyext_const *table)
{
    for (; table->name; table++)
        if (PyModule_AddIntConstant(m, table->name, table->value) < 0)
            return -1;
    return 0;
}

PyObject *upyext_submodule(PyObject *parent, const char *name, PyMethodDef *methods)
{
    PyObject *m = PyModule_New(name);
    if (!m)
        return NULL;
    if ((methods && PyModule_AddFunctions(m, methods) < 0) || PyModule_AddObject(parent, name, m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m; /* borrowed: the parent holds it */
}
