/*
 * _thread: device threads running Python functions, and locks.
 *
 * A thread is started through uthread_start_new_thread_named, so the library counts it (the
 * runner's wait_threads and activity ask the library, not this file). Its trampoline takes the
 * GIL, calls the function and deals with an escaping exception as the board does: SystemExit
 * ends the thread silently, anything else goes to the runner's hook or to the default printer,
 * and only that thread ends.
 */
#include "upysock_ext.h"

#include <string.h>

/* One running device thread; the list is what live_threads() reports. GIL-protected. */
typedef struct thread_rec {
    PyObject *fn, *args, *kwargs;
    unsigned long ident; /* 0 until the thread runs */
    char name[64];
    struct thread_rec *prev, *next;
} thread_rec;

static thread_rec threads = {.prev = &threads, .next = &threads};
static PyObject *excepthook; /* f(func, exc), or NULL for the default printer */

static void threads_add(thread_rec *r)
{
    r->next = &threads;
    r->prev = threads.prev;
    threads.prev->next = r;
    threads.prev = r;
}

static void thread_rec_free(thread_rec *r)
{
    r->prev->next = r->next;
    r->next->prev = r->prev;
    Py_XDECREF(r->fn);
    Py_XDECREF(r->args);
    Py_XDECREF(r->kwargs);
    PyMem_Free(r);
}

PyObject *upyext_live_threads(void)
{
    PyObject *list = PyList_New(0);
    for (thread_rec *r = threads.next; list && r != &threads; r = r->next) {
        PyObject *item = Py_BuildValue("(ks)", r->ident, r->name);
        if (!item || PyList_Append(list, item) < 0)
            Py_CLEAR(list);
        Py_XDECREF(item);
    }
    return list;
}

int upyext_set_thread_excepthook(PyObject *hook)
{
    if (hook != Py_None && !PyCallable_Check(hook)) {
        PyErr_SetString(PyExc_TypeError, "the hook must be callable or None");
        return -1;
    }
    Py_XSETREF(excepthook, hook == Py_None ? NULL : Py_NewRef(hook));
    return 0;
}

/* The board's printer, to stdout: "Unhandled exception in thread started by <function f at
 * 0x...>" and then the exception. */
static void print_unhandled(PyObject *fn, PyObject *exc)
{
    PyObject *out = PySys_GetObject("stdout"), *tb = PyImport_ImportModule("traceback");
    PyObject *printed = NULL;
    if (out && out != Py_None && tb && PyFile_WriteString("Unhandled exception in thread started by ", out) == 0 &&
        PyFile_WriteObject(fn, out, 0) == 0 && PyFile_WriteString("\n", out) == 0) {
        PyObject *print = PyObject_GetAttrString(tb, "print_exception");
        PyObject *kw = Py_BuildValue("{sO}", "file", out), *args = PyTuple_Pack(1, exc);
        if (print && kw && args)
            printed = PyObject_Call(print, args, kw);
        Py_XDECREF(print);
        Py_XDECREF(kw);
        Py_XDECREF(args);
    }
    if (!printed)
        PyErr_Clear();
    Py_XDECREF(printed);
    Py_XDECREF(tb);
}

/* The exception escaping fn (set): silent for SystemExit, else the hook or the printer. */
static void report_unhandled(PyObject *fn)
{
    if (PyErr_ExceptionMatches(PyExc_SystemExit)) {
        PyErr_Clear();
        return;
    }
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb && value)
        PyException_SetTraceback(value, tb);
    if (value && excepthook) {
        PyObject *hook = Py_NewRef(excepthook);
        PyObject *r = PyObject_CallFunctionObjArgs(hook, fn, value, NULL);
        if (!r)
            PyErr_WriteUnraisable(hook);
        Py_XDECREF(r);
        Py_DECREF(hook);
    } else if (value) {
        print_unhandled(fn, value);
    }
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

static int trampoline(void *arg)
{
    thread_rec *r = arg;
    PyGILState_STATE gil = PyGILState_Ensure();
    r->ident = uthread_get_ident();
    PyObject *result = PyObject_Call(r->fn, r->args, r->kwargs);
    if (result)
        Py_DECREF(result);
    else
        report_unhandled(r->fn);
    thread_rec_free(r);
    PyGILState_Release(gil);
    return 0;
}

static void set_name(thread_rec *r)
{
    PyObject *name = PyObject_GetAttrString(r->fn, "__name__");
    const char *text = name && PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
    snprintf(r->name, sizeof r->name, "%s", text ? text : Py_TYPE(r->fn)->tp_name);
    Py_XDECREF(name);
    PyErr_Clear();
}

/* start_new_thread(function, args[, kwargs]) -> None */
static PyObject *t_start_new_thread(PyObject *m, PyObject *const *args, Py_ssize_t n)
{
    if (!_PyArg_CheckPositional("start_new_thread", n, 2, 3) || upyext_check_tuple_or_list(args[1]) < 0)
        return NULL;
    if (n == 3 && !PyDict_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "expecting a dict for keyword args");
        return NULL;
    }
    thread_rec *r = PyMem_Calloc(1, sizeof *r);
    if (!r)
        return PyErr_NoMemory();
    threads_add(r);
    r->fn = Py_NewRef(args[0]);
    r->kwargs = n == 3 ? PyDict_Copy(args[2]) : NULL;
    r->args = PySequence_Tuple(args[1]);
    if (!r->args || (n == 3 && !r->kwargs)) {
        thread_rec_free(r);
        return NULL;
    }
    set_name(r);
    if (uthread_start_new_thread_named(trampoline, r, r->name) < 0) {
        thread_rec_free(r);
        return upyext_raise();
    }
    Py_RETURN_NONE;
}

static PyObject *t_exit(PyObject *m, PyObject *unused)
{
    PyErr_SetNone(PyExc_SystemExit);
    return NULL;
}

static PyObject *t_get_ident(PyObject *m, PyObject *unused)
{
    return PyLong_FromUnsignedLong(uthread_get_ident());
}

/* stack_size([n]): without n the board returns the value and resets it to 0. */
static PyObject *t_stack_size(PyObject *m, PyObject *const *args, Py_ssize_t n)
{
    long size;
    if (!_PyArg_CheckPositional("stack_size", n, 0, 1) || (n == 1 && upyext_get_int(args[0], &size) < 0))
        return NULL;
    return PyLong_FromLong(n == 0 ? uthread_stack_size() : uthread_set_stack_size(size));
}

/* --- locks -------------------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    uthread_lock *lock;
} lock_obj;

static void lock_dealloc(lock_obj *o)
{
    uthread_lock_free(o->lock);
    Py_TYPE(o)->tp_free(o);
}

/* acquire(waitflag=1, timeout=-1): the timeout is accepted and ignored, as on the board. */
static PyObject *lock_acquire(lock_obj *o, PyObject *const *args, Py_ssize_t n)
{
    long wait = 1;
    if (!_PyArg_CheckPositional("acquire", n, 0, 2) || (n >= 1 && upyext_get_int(args[0], &wait) < 0))
        return NULL;
    int got = uthread_lock_acquire(o->lock, false, 0); /* the uncontended case keeps the GIL */
    if (got == 0 && wait)
        UPYEXT_NOGIL(got = uthread_lock_acquire(o->lock, true, -1));
    return got < 0 ? upyext_raise() : PyBool_FromLong(got);
}

static PyObject *lock_release(lock_obj *o, PyObject *unused)
{
    return upyext_none_or_raise(uthread_lock_release(o->lock));
}

static PyObject *lock_locked(lock_obj *o, PyObject *unused)
{
    return PyBool_FromLong(uthread_lock_locked(o->lock));
}

static PyObject *lock_exit(lock_obj *o, PyObject *args)
{
    return lock_release(o, NULL);
}

static PyMethodDef lock_methods[] = {
    {"acquire", (PyCFunction)(void (*)(void))lock_acquire, METH_FASTCALL, "acquire([waitflag[, timeout]]) -> bool"},
    {"release", (PyCFunction)lock_release, METH_NOARGS, "release()"},
    {"locked", (PyCFunction)lock_locked, METH_NOARGS, "locked() -> bool"},
    {"__enter__", (PyCFunction)(void (*)(void))lock_acquire, METH_FASTCALL, "acquire()"},
    {"__exit__", (PyCFunction)lock_exit, METH_VARARGS, "release()"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject lock_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "lock",
    .tp_basicsize = sizeof(lock_obj),
    .tp_dealloc = (destructor)lock_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A lock from _thread.allocate_lock().",
    .tp_methods = lock_methods,
};

static PyObject *t_allocate_lock(PyObject *m, PyObject *unused)
{
    uthread_lock *lock = uthread_allocate_lock();
    if (!lock)
        return upyext_raise();
    lock_obj *o = PyObject_New(lock_obj, &lock_type);
    if (!o) {
        uthread_lock_free(lock);
        return NULL;
    }
    o->lock = lock;
    return (PyObject *)o;
}

static PyMethodDef module_methods[] = {
    {"start_new_thread", (PyCFunction)(void (*)(void))t_start_new_thread, METH_FASTCALL,
     "start_new_thread(function, args[, kwargs]) -> None"},
    {"exit", t_exit, METH_NOARGS, "exit(): raise SystemExit, which ends the thread silently"},
    {"get_ident", t_get_ident, METH_NOARGS, "get_ident() -> int"},
    {"stack_size", (PyCFunction)(void (*)(void))t_stack_size, METH_FASTCALL, "stack_size([n]) -> the previous size"},
    {"allocate_lock", t_allocate_lock, METH_NOARGS, "allocate_lock() -> lock"},
    {NULL, NULL, 0, NULL},
};

int upyext_thread_init(PyObject *module)
{
    if (PyType_Ready(&lock_type) < 0)
        return -1;
    PyObject *m = upyext_submodule(module, "_thread", module_methods);
    return m ? PyModule_AddObjectRef(m, "LockType", (PyObject *)&lock_type) : -1;
}
