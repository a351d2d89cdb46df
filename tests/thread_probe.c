/*
 * Helper for the _thread tests: threads that end every way a device thread can, one after the
 * other, so the output order is fixed. stderr goes to /dev/null: whatever the test reads was
 * printed on stdout, where the device prints unhandled thread exceptions.
 *
 * The first line gives the function addresses the unhandled-exception lines must show:
 *   functions: <failing_worker> <custom_name's function> <runtime_worker>
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include <upysock/upy.h>
#include <upysock/uthread.h>

static int failing_worker(void *arg)
{
    (void)arg;
    return upy_raise(UPY_EXC_OSERROR, 119, NULL);
}

static int exiting_worker(void *arg)
{
    (void)arg;
    uthread_exit();
    printf("exiting_worker went on after exit()\n");
    return -1;
}

static int text_worker(void *arg)
{
    (void)arg;
    return upy_raise(UPY_EXC_VALUEERROR, 0, "bad value");
}

static int runtime_worker(void *arg)
{
    (void)arg;
    return upy_raise(UPY_EXC_RUNTIMEERROR, 0, "");
}

static int ok_worker(void *arg)
{
    (void)arg;
    printf("ok_worker ran\n");
    return 0;
}

static int finish(int started)
{
    if (started < 0 || uthread_wait_all(10000) < 0) {
        upy_exc_print(stdout);
        return 1;
    }
    return 0;
}

int main(void)
{
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull < 0 || dup2(devnull, 2) < 0)
        return 1;
    printf("functions: %p %p %p\n", (void *)(uintptr_t)failing_worker, (void *)(uintptr_t)text_worker,
           (void *)(uintptr_t)runtime_worker);
    int rc = finish(uthread_start_new_thread(failing_worker, NULL));
    rc |= finish(uthread_start_new_thread(exiting_worker, NULL));
    rc |= finish(uthread_start_new_thread_named(text_worker, NULL, "custom_name"));
    rc |= finish(uthread_start_new_thread(runtime_worker, NULL));
    rc |= finish(uthread_start_new_thread(ok_worker, NULL));
    printf("done\n");
    return rc;
}
