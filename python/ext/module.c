/*
 * upysock._upysock: the device modules as attributes (usocket, uselect, ussl, uerrno, utime,
 * _thread) and the calls the runner needs around a script (configuration, thread life, soft
 * reset).
 */
#include "upysock_ext.h"

#include <string.h>

/* A library configuration error, prefixed with the variable it is equivalent to, so a bad
 * option reads like a bad UPYSOCK_* variable. */
static PyObject *config_error(const char *var)
{
    const upy_exc *e = upy_exc_current();
    PyErr_Format(PyExc_ValueError, "%s: %s", var, e->message[0] ? e->message : "invalid value");
    return NULL;
}

enum { RAISED = -2 }; /* a setter that raised its own exception */

/* UPYSOCK_TRACE_DATA's text as upy_config_trace_data's count; text that is not one is refused
 * here, in the library's words, as the variable's own text would be. */
static int set_trace_data(const char *value)
{
    size_t digits = strspn(value, "0123456789");
    if (digits && digits <= 4 && !value[digits])
        return upy_config_trace_data(strtol(value, NULL, 10));
    PyErr_Format(PyExc_ValueError, "UPYSOCK_TRACE_DATA: a byte count 0..4096 expected, not '%s'", value);
    return RAISED;
}

static const struct setting {
    const char *name, *var;
    int (*set)(const char *value);
} settings[] = {
    {"profile", "UPYSOCK_PROFILE", upy_config_profile}, {"limits", "UPYSOCK_LIMITS", upy_config_limits},
    {"remap", "UPYSOCK_REMAP", upy_config_remap},       {"net", "UPYSOCK_NET", upy_config_net},
    {"flash", "UPYSOCK_FLASH", upy_config_flash},       {"log", "UPYSOCK_LOG", upy_config_log_to},
    {"faults", "UPYSOCK_FAULTS", upy_config_faults},
    {"device_ip", "UPYSOCK_DEVICE_IP", upy_config_device_ip}, {"trace", "UPYSOCK_TRACE", upy_config_trace},
    {"trace_data", "UPYSOCK_TRACE_DATA", set_trace_data}, {"pcap", "UPYSOCK_PCAP", upy_config_pcap},
    {"keylog", "UPYSOCK_KEYLOG", upy_config_keylog},
};

/* configure(name, value) */
static PyObject *m_configure(PyObject *m, PyObject *const *args, Py_ssize_t n)
{
    const char *name, *value;
    if (!_PyArg_CheckPositional("configure", n, 2, 2) || !(name = upyext_get_str(args[0])) ||
        !(value = upyext_get_str(args[1])))
        return NULL;
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        if (strcmp(settings[i].name, name) != 0)
            continue;
        int rc = settings[i].set(value);
        if (rc < 0)
            return rc == RAISED ? NULL : config_error(settings[i].var);
        Py_RETURN_NONE;
    }
    PyErr_Format(PyExc_ValueError,
                 "unknown setting '%s' (profile, limits, remap, net, flash, log, faults, device_ip, trace, "
                 "trace_data, pcap, keylog)", name);
    return NULL;
}

/* device_ip() -> the board's own address, as the library has it (UPYSOCK_DEVICE_IP). */
static PyObject *m_device_ip(PyObject *m, PyObject *unused)
{
    char ip[16];
    upy_config_get_device_ip(ip, sizeof ip);
    return PyUnicode_FromString(ip);
}

static PyObject *m_check_config(PyObject *m, PyObject *unused)
{
    return upyext_none_or_raise(upy_config_check()); /* the library's message names the variable */
}

/* wait_threads(timeout_s) -> True when every device thread ended in time. */
static PyObject *m_wait_threads(PyObject *m, PyObject *arg)
{
    double t;
    if (upyext_get_float(arg, &t) < 0)
        return NULL;
    int ms = t < 0 ? -1 : (t * 1000 > INT_MAX ? INT_MAX : (int)(t * 1000));
    int rc;
    UPYEXT_NOGIL(rc = uthread_wait_all(ms));
    if (rc == 0)
        Py_RETURN_TRUE;
    if (upy_exc_isinstance(upy_exc_current(), UPY_EXC_TIMEOUTERROR))
        Py_RETURN_FALSE;
    return upyext_raise();
}

/* activity() -> 0 no device thread running, 1 running, 2 every one blocked forever. */
static PyObject *m_activity(PyObject *m, PyObject *unused)
{
    return PyLong_FromLong(uthread_activity_now());
}

static PyObject *m_soft_reset(PyObject *m, PyObject *unused)
{
    upyext_close_all_sockets();
    Py_RETURN_NONE;
}

static PyObject *m_set_thread_excepthook(PyObject *m, PyObject *hook)
{
    if (upyext_set_thread_excepthook(hook) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *m_live_threads(PyObject *m, PyObject *unused)
{
    return upyext_live_threads();
}

static PyMethodDef methods[] = {
    {"configure", (PyCFunction)(void (*)(void))m_configure, METH_FASTCALL,
     "configure(name, value): name in profile, limits, remap, net, flash, log, faults, device_ip, trace, "
     "trace_data, pcap, keylog; as the UPYSOCK_* variable"},
    {"device_ip", m_device_ip, METH_NOARGS, "device_ip() -> the board's own address (UPYSOCK_DEVICE_IP)"},
    {"check_config", m_check_config, METH_NOARGS, "check_config(): ValueError for a bad UPYSOCK_* variable"},
    {"wait_threads", m_wait_threads, METH_O, "wait_threads(timeout_s) -> True when every device thread ended"},
    {"activity", m_activity, METH_NOARGS,
     "activity() -> 0 no device thread running, 1 running, 2 every device thread blocked forever"},
    {"soft_reset", m_soft_reset, METH_NOARGS, "soft_reset(): close every open device socket"},
    {"set_thread_excepthook", m_set_thread_excepthook, METH_O,
     "set_thread_excepthook(f): f(func, exc) for an unhandled exception in a device thread; None: the board's printer"},
    {"live_threads", m_live_threads, METH_NOARGS, "live_threads() -> [(ident, funcname)] of running device threads"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, .m_name = "upysock._upysock",
    .m_doc = "The Pycom board's usocket, uselect, ussl, uerrno, utime and _thread over libupysock.",
    .m_size = -1, .m_methods = methods,
};

PyMODINIT_FUNC PyInit__upysock(void)
{
    PyObject *m = PyModule_Create(&moduledef);
    if (!m)
        return NULL;
    if (upyext_errors_init(m) < 0 || upyext_socket_init(m) < 0 || upyext_select_init(m) < 0 ||
        upyext_ssl_init(m) < 0 || upyext_errno_init(m) < 0 || upyext_time_init(m) < 0 ||
        upyext_thread_init(m) < 0 || PyModule_AddStringConstant(m, "__version__", UPYSOCK_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
