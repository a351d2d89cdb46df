/*
 * utime: the board's sleeps and 32-bit ticks. The sleeps release the GIL, as the board's
 * vTaskDelay lets other threads run. time() is an int, as on the board.
 */
#include "upysock_ext.h"

#include <upysock/utime.h>

static PyObject *t_sleep(PyObject *m, PyObject *arg)
{
    double s;
    int rc;
    if (upyext_get_float(arg, &s) < 0)
        return NULL;
    UPYEXT_NOGIL(rc = utime_sleep(s));
    return upyext_none_or_raise(rc);
}

/* sleep_ms and sleep_us: an int, else the board's TypeError. */
static PyObject *sleep_int(PyObject *arg, int (*sleeper)(int))
{
    long n;
    int rc;
    if (upyext_get_int(arg, &n) < 0)
        return NULL;
    UPYEXT_NOGIL(rc = sleeper(n > INT_MAX ? INT_MAX : (n < INT_MIN ? INT_MIN : (int)n)));
    return upyext_none_or_raise(rc);
}

static PyObject *t_sleep_ms(PyObject *m, PyObject *arg)
{
    return sleep_int(arg, utime_sleep_ms);
}

static PyObject *t_sleep_us(PyObject *m, PyObject *arg)
{
    return sleep_int(arg, utime_sleep_us);
}

static PyObject *t_ticks_ms(PyObject *m, PyObject *unused)
{
    return PyLong_FromUnsignedLong(utime_ticks_ms());
}

static PyObject *t_ticks_us(PyObject *m, PyObject *unused)
{
    return PyLong_FromUnsignedLong(utime_ticks_us());
}

static PyObject *t_ticks_add(PyObject *m, PyObject *const *args, Py_ssize_t n)
{
    long t, d;
    if (!_PyArg_CheckPositional("ticks_add", n, 2, 2) || upyext_get_int_truncated(args[0], &t) < 0 ||
        upyext_get_int_truncated(args[1], &d) < 0)
        return NULL;
    return PyLong_FromUnsignedLong(utime_ticks_add((uint32_t)t, (int32_t)(uint32_t)d));
}

static PyObject *t_ticks_diff(PyObject *m, PyObject *const *args, Py_ssize_t n)
{
    long end, start;
    if (!_PyArg_CheckPositional("ticks_diff", n, 2, 2) || upyext_get_int_truncated(args[0], &end) < 0 ||
        upyext_get_int_truncated(args[1], &start) < 0)
        return NULL;
    return PyLong_FromLong(utime_ticks_diff((uint32_t)end, (uint32_t)start));
}

static PyObject *t_time(PyObject *m, PyObject *unused)
{
    return PyLong_FromLongLong(utime_time());
}

static PyMethodDef module_methods[] = {
    {"sleep", t_sleep, METH_O, "sleep(seconds)"},
    {"sleep_ms", t_sleep_ms, METH_O, "sleep_ms(ms)"},
    {"sleep_us", t_sleep_us, METH_O, "sleep_us(us)"},
    {"ticks_ms", t_ticks_ms, METH_NOARGS, "ticks_ms() -> 32-bit milliseconds"},
    {"ticks_us", t_ticks_us, METH_NOARGS, "ticks_us() -> 32-bit microseconds"},
    {"ticks_cpu", t_ticks_us, METH_NOARGS, "ticks_cpu() -> 32-bit microseconds, as the board's esp_timer"},
    {"ticks_add", (PyCFunction)(void (*)(void))t_ticks_add, METH_FASTCALL, "ticks_add(ticks, delta)"},
    {"ticks_diff", (PyCFunction)(void (*)(void))t_ticks_diff, METH_FASTCALL, "ticks_diff(end, start)"},
    {"time", t_time, METH_NOARGS, "time() -> int seconds since 1970"},
    {NULL, NULL, 0, NULL},
};

int upyext_time_init(PyObject *module)
{
    return upyext_submodule(module, "utime", module_methods) ? 0 : -1;
}
