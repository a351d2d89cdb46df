/*
 * The library's current exception → a Python exception, and the board's OSError.
 *
 * The board's OSError carries one argument and prints "[Errno 119] EINPROGRESS" for a code its
 * uerrno names, the bare number otherwise, and the text for a message. CPython's OSError prints
 * a lone argument as is, so the binding raises a subclass whose only change is __str__. It is
 * named OSError and claims the builtins module so that CPython's own traceback printer shows
 * "OSError: [Errno 119] EINPROGRESS" like the board, and `except OSError` catches it.
 */
#include "upysock_ext.h"

#include <upysock/uerrno.h>

PyObject *upyext_OSError;

static PyObject *oserror_str(PyObject *self)
{
    PyObject *args = ((PyBaseExceptionObject *)self)->args;
    if (args && PyTuple_GET_SIZE(args) == 1) {
        PyObject *arg = PyTuple_GET_ITEM(args, 0);
        if (!PyLong_Check(arg))
            return PyObject_Str(arg);
        int overflow;
        long code = PyLong_AsLongAndOverflow(arg, &overflow);
        const char *name = (!overflow && code >= INT_MIN && code <= INT_MAX) ? uerrno_errorcode((int)code) : NULL;
        if (name)
            return PyUnicode_FromFormat("[Errno %ld] %s", code, name);
        return PyObject_Str(arg);
    }
    return ((PyTypeObject *)PyExc_OSError)->tp_str(self);
}

static PyType_Slot oserror_slots[] = {
    {Py_tp_str, oserror_str},
    {Py_tp_doc, "OSError as the board raises and prints it: OSError(119) is '[Errno 119] EINPROGRESS'."},
    {0, NULL},
};

static PyType_Spec oserror_spec = {
    .name = "builtins.OSError",
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .slots = oserror_slots,
};

int upyext_errors_init(PyObject *module)
{
    upyext_OSError = PyType_FromSpecWithBases(&oserror_spec, PyExc_OSError);
    if (!upyext_OSError)
        return -1;
    Py_INCREF(upyext_OSError);
    return PyModule_AddObject(module, "OSError", upyext_OSError);
}

static PyObject *builtin_type(upy_exc_type type)
{
    switch (type) {
    case UPY_EXC_OSERROR: return upyext_OSError;
    case UPY_EXC_TIMEOUTERROR: return PyExc_TimeoutError;
    case UPY_EXC_VALUEERROR: return PyExc_ValueError;
    case UPY_EXC_TYPEERROR: return PyExc_TypeError;
    case UPY_EXC_MEMORYERROR: return PyExc_MemoryError;
    case UPY_EXC_RUNTIMEERROR: return PyExc_RuntimeError;
    default: return PyExc_SystemError;
    }
}

PyObject *upyext_raise(void)
{
    const upy_exc *e = upy_exc_current();
    PyObject *type = builtin_type(e->type);
    if (e->has_code) {
        PyObject *code = PyLong_FromLong(e->code);
        if (code) {
            PyErr_SetObject(type, code);
            Py_DECREF(code);
        }
    } else if (e->message[0]) {
        PyErr_SetString(type, e->message);
    } else {
        PyErr_SetNone(type); /* the board's RuntimeError from lock.release() has no argument */
    }
    return NULL;
}

PyObject *upyext_none_or_raise(int rc)
{
    if (rc < 0)
        return upyext_raise();
    Py_RETURN_NONE;
}

PyObject *upyext_raise_errno(int code)
{
    PyObject *arg = PyLong_FromLong(code);
    if (arg) {
        PyErr_SetObject(upyext_OSError, arg);
        Py_DECREF(arg);
    }
    return NULL;
}
