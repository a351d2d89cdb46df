/* uerrno: the names the board's uerrno lists, and errorcode, both from uerrno.h's one table. */
#include "upysock_ext.h"

static int add_name(PyObject *m, PyObject *errorcode, const char *name, int value)
{
    PyObject *code = PyLong_FromLong(value), *text = PyUnicode_FromString(name);
    int rc = (code && text) ? PyDict_SetItem(errorcode, code, text) : -1;
    if (rc == 0)
        rc = PyModule_AddIntConstant(m, name, value);
    Py_XDECREF(code);
    Py_XDECREF(text);
    return rc;
}

int upyext_errno_init(PyObject *module)
{
    PyObject *m = upyext_submodule(module, "uerrno", NULL);
    PyObject *errorcode = PyDict_New();
    int rc = (m && errorcode) ? 0 : -1;
#define ADD_POSIX(name, value, listed) \
    if (rc == 0 && (listed))           \
        rc = add_name(m, errorcode, #name, value);
#define ADD_EXTRA(name, value) \
    if (rc == 0)               \
        rc = add_name(m, errorcode, #name, value);
    UERRNO_POSIX_LIST(ADD_POSIX)
    UERRNO_EXTRA_LIST(ADD_EXTRA)
#undef ADD_POSIX
#undef ADD_EXTRA
    if (rc == 0)
        return PyModule_AddObject(m, "errorcode", errorcode);
    Py_XDECREF(errorcode);
    return -1;
}
