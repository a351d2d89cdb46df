/* _thread: starting threads, how they end (the unhandled-exception text, exit), waiting for
 * them, stack_size bookkeeping, and locks as the device's FreeRTOS mutex behaves. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include <upysock/uerrno.h>
#include <upysock/uselect.h>
#include <upysock/usocket.h>
#include <upysock/uthread.h>

#include "testutil.h"

/* Each test's threads are done before it returns, so their data can be static. */
static int wait_done(void)
{
    return uthread_wait_all(5000);
}

static int doubler(void *arg)
{
    int *v = arg;
    v[1] = v[0] * 2;
    return 0;
}

static void test_start_new_thread_runs_fn_with_arg(void **state)
{
    (void)state;
    static int values[2] = {21, 0};
    assert_int_equal(uthread_start_new_thread(doubler, values), 0);
    assert_int_equal(wait_done(), 0);
    assert_int_equal(values[1], 42);
}

static void test_start_new_thread_needs_a_function(void **state)
{
    (void)state;
    assert_int_equal(uthread_start_new_thread_named(NULL, NULL, "none"), -1);
    assert_exc_msg(UPY_EXC_TYPEERROR, "function must be callable, not NULL");
    assert_int_equal(wait_done(), 0);
}

static tu_proc proc;

/* modthread.c thread_entry: the function's repr, then the exception, on stdout; SystemExit
 * (exit()) is silent; other threads go on. */
static void test_unhandled_exceptions_are_printed_as_the_device_prints_them(void **state)
{
    (void)state;
    char *argv[] = {(char *)tu_test_bin("thread_probe"), NULL};
    assert_int_equal(tu_run(&proc, argv, NULL, 10000), 0);
    char failing[32], custom[32], runtime[32];
    assert_int_equal(sscanf(proc.out, "functions: %31s %31s %31s\n", failing, custom, runtime), 3);
    assert_int_equal(strncmp(failing, "0x", 2), 0);
    assert_int_equal(strspn(failing + 2, "0123456789abcdef"), strlen(failing + 2));
    char expect[1024];
    snprintf(expect, sizeof expect,
             "functions: %s %s %s\n"
             "Unhandled exception in thread started by <function failing_worker at %s>\n"
             "OSError: [Errno 119] EINPROGRESS\n"
             "Unhandled exception in thread started by <function custom_name at %s>\n"
             "ValueError: bad value\n"
             "Unhandled exception in thread started by <function runtime_worker at %s>\n"
             "RuntimeError: \n"
             "ok_worker ran\n"
             "done\n",
             failing, custom, runtime, failing, custom, runtime);
    assert_string_equal(proc.out, expect);
}

static uthread_lock *gate;

/* Holds the thread until the test opens the gate. */
static int gated(void *arg)
{
    (void)arg;
    uthread_lock_acquire(gate, true, -1);
    return uthread_lock_release(gate);
}

static void test_wait_all_times_out_while_a_thread_runs(void **state)
{
    (void)state;
    assert_int_equal(uthread_wait_all(-1), 0); /* nothing running */
    assert_int_equal(uthread_wait_all(0), 0);
    gate = uthread_allocate_lock();
    assert_int_equal(uthread_lock_acquire(gate, true, -1), 1);
    assert_int_equal(uthread_start_new_thread(gated, NULL), 0);
    assert_int_equal(uthread_wait_all(0), -1);
    assert_exc_msg(UPY_EXC_TIMEOUTERROR, "timed out");
    uint64_t start = tu_now_ms();
    assert_int_equal(uthread_wait_all(50), -1);
    assert_exc_msg(UPY_EXC_TIMEOUTERROR, "timed out");
    assert_true(tu_now_ms() - start >= 50);
    assert_int_equal(uthread_lock_release(gate), 0);
    assert_int_equal(wait_done(), 0);
    uthread_lock_free(gate);
}

static int exiting(void *arg)
{
    int *steps = arg;
    steps[0] = 1;
    uthread_exit();
    steps[1] = 1;
    return -1;
}

static void test_exit_ends_the_thread(void **state)
{
    (void)state;
    static int steps[2];
    assert_int_equal(uthread_start_new_thread(exiting, steps), 0);
    assert_int_equal(wait_done(), 0);
    assert_int_equal(steps[0], 1);
    assert_int_equal(steps[1], 0);
}

static void *plain_pthread_exit(void *arg)
{
    int *rc = arg;
    *rc = uthread_exit();
    return NULL;
}

static void test_exit_outside_a_started_thread_is_runtimeerror(void **state)
{
    (void)state;
    assert_int_equal(uthread_exit(), -1);
    assert_exc_msg(UPY_EXC_RUNTIMEERROR, "exit() outside a thread started by start_new_thread");
    int rc = 0;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, plain_pthread_exit, &rc), 0);
    pthread_join(t, NULL);
    assert_int_equal(rc, -1);
}

static void test_stack_size_records_and_resets(void **state)
{
    (void)state;
    assert_int_equal(uthread_stack_size(), 0);
    assert_int_equal(uthread_set_stack_size(8192), 0);
    assert_int_equal(uthread_set_stack_size(16384), 8192);
    /* Asking returns the value and stores 0 (firmware-notes §7). */
    assert_int_equal(uthread_stack_size(), 16384);
    assert_int_equal(uthread_stack_size(), 0);
    /* No validation: whatever is recorded, threads start (the device clamps to 5 KiB). */
    assert_int_equal(uthread_set_stack_size(-5), 0);
    assert_int_equal(uthread_set_stack_size(1), -5);
    static int small[2] = {1, 0}, large[2] = {2, 0};
    assert_int_equal(uthread_start_new_thread(doubler, small), 0);
    assert_int_equal(uthread_set_stack_size(4L << 20), 1);
    assert_int_equal(uthread_start_new_thread(doubler, large), 0);
    assert_int_equal(wait_done(), 0);
    assert_int_equal(small[1], 2);
    assert_int_equal(large[1], 4);
    /* Starting a thread does not consume the recorded size. */
    assert_int_equal(uthread_stack_size(), 4L << 20);
}

/* Fidelity row S2.2-48. A stack no memory can hold: on the board heap_caps_malloc returns NULL
 * and mp_thread_create_ex raises MemoryError("can't create thread") (FW esp32/mpthreadport.c,
 * memory_error; the OSError branch needs xTaskCreateStatic to fail, which it cannot with a
 * stack in hand). Here pthread_create refuses a stack larger than the address space. */
static void test_a_stack_no_memory_can_hold_is_memoryerror(void **state)
{
    (void)state;
    static int values[2] = {1, 0};
    assert_int_equal(uthread_set_stack_size(1L << 47), 0);
    assert_int_equal(uthread_start_new_thread(doubler, values), -1);
    assert_exc_msg(UPY_EXC_MEMORYERROR, "can't create thread");
    uthread_stack_size(); /* back to 0 */
    assert_int_equal(wait_done(), 0);
}

static int record_ident(void *arg)
{
    *(unsigned long *)arg = uthread_get_ident();
    return 0;
}

static void test_get_ident_differs_between_threads(void **state)
{
    (void)state;
    static unsigned long other;
    unsigned long mine = uthread_get_ident();
    assert_int_not_equal(mine, 0);
    assert_int_equal(uthread_get_ident(), mine);
    assert_int_equal(uthread_start_new_thread(record_ident, &other), 0);
    assert_int_equal(wait_done(), 0);
    assert_int_not_equal(other, 0);
    assert_int_not_equal(other, mine);
}

/* --- locks -------------------------------------------------------------------------------- */

/* --- the unhandled-exception hook -------------------------------------------------------- */

static struct {
    char name[32];
    uthread_fn fn;
    upy_exc exc;
    void *user;
    int calls;
} hooked;

static void record_unhandled(const char *name, uthread_fn fn, const upy_exc *exc, void *user)
{
    snprintf(hooked.name, sizeof hooked.name, "%s", name);
    hooked.fn = fn;
    hooked.exc = *exc;
    hooked.user = user;
    hooked.calls++;
}

static int raises_einprogress(void *arg)
{
    (void)arg;
    return upy_raise(UPY_EXC_OSERROR, UERRNO_EINPROGRESS, NULL);
}

static void test_unhandled_hook_replaces_the_printer(void **state)
{
    (void)state;
    static int user;
    uthread_set_unhandled_hook(record_unhandled, &user);
    assert_int_equal(uthread_start_new_thread(raises_einprogress, NULL), 0);
    assert_int_equal(wait_done(), 0);
    uthread_set_unhandled_hook(NULL, NULL);
    assert_int_equal(hooked.calls, 1);
    assert_string_equal(hooked.name, "raises_einprogress");
    assert_ptr_equal(hooked.fn, raises_einprogress);
    assert_ptr_equal(hooked.user, &user);
    assert_int_equal(hooked.exc.type, UPY_EXC_OSERROR);
    assert_int_equal(hooked.exc.code, UERRNO_EINPROGRESS);
}

/* --- uthread_activity_now ----------------------------------------------------------------- */

/* Bounded wait for the runner's answer to become `want`. */
static bool activity_becomes(uthread_activity want)
{
    for (uint64_t end = tu_now_ms() + 5000; tu_now_ms() < end;) {
        if (uthread_activity_now() == want)
            return true;
        sched_yield();
    }
    return uthread_activity_now() == want;
}

static int polls_forever(void *poller)
{
    uselect_event ev[2];
    return uselect_poll_poll(poller, -1, 0, ev, 2) < 0 ? -1 : 0;
}

static void test_activity_is_none_running_without_threads(void **state)
{
    (void)state;
    assert_int_equal(uthread_activity_now(), UTHREAD_NONE_RUNNING);
}

/* Tutorial 2's end: the poll thread waits with no timeout on sockets that are all closed. A
 * socket registered afterwards (by a thread the runner does not count) wakes it again. */
static void test_a_poll_of_closed_sockets_without_timeout_is_blocked_forever(void **state)
{
    (void)state;
    uselect_poller *p = uselect_poll();
    usocket *watched = tu_udp(), *waker = tu_udp();
    assert_int_equal(usocket_bind(watched, &(usocket_addr){"127.0.0.1", 0}), 0);
    assert_int_equal(uselect_poll_register(p, watched, USELECT_POLLIN), 0);
    assert_int_equal(uthread_start_new_thread(polls_forever, p), 0);
    assert_true(activity_becomes(UTHREAD_RUNNING)); /* an open socket may still get data */
    usocket_close(watched);
    assert_true(activity_becomes(UTHREAD_BLOCKED_FOREVER));
    /* Wake it: a datagram to a newly registered socket. */
    assert_int_equal(usocket_bind(waker, &(usocket_addr){"127.0.0.1", 0}), 0);
    assert_int_equal(uselect_poll_register(p, waker, USELECT_POLLIN), 0);
    assert_int_equal(usocket_sendto(waker, "x", 1, &(usocket_addr){"127.0.0.1", tu_usock_port(waker)}), 1);
    assert_int_equal(wait_done(), 0);
    assert_int_equal(uthread_activity_now(), UTHREAD_NONE_RUNNING);
    uselect_poll_free(p);
    usocket_release(watched);
    usocket_release(waker);
}

static uthread_lock *deadlock;

static int waits_for_the_lock(void *arg)
{
    (void)arg;
    return uthread_lock_acquire(deadlock, true, -1) == 1 ? 0 : -1;
}

/* A lock held by no running device thread can be released only by one: when every device thread
 * waits, none will. */
static void test_a_thread_waiting_for_a_lock_no_device_thread_holds_is_blocked_forever(void **state)
{
    (void)state;
    deadlock = uthread_allocate_lock();
    assert_int_equal(uthread_lock_acquire(deadlock, true, -1), 1);
    assert_int_equal(uthread_start_new_thread(waits_for_the_lock, NULL), 0);
    assert_true(activity_becomes(UTHREAD_BLOCKED_FOREVER));
    assert_int_equal(uthread_lock_release(deadlock), 0);
    assert_int_equal(wait_done(), 0);
    uthread_lock_free(deadlock);
}

static void test_lock_acquire_release_locked(void **state)
{
    (void)state;
    uthread_lock *l = uthread_allocate_lock();
    assert_non_null(l);
    assert_false(uthread_lock_locked(l));
    assert_int_equal(uthread_lock_acquire(l, true, -1), 1);
    assert_true(uthread_lock_locked(l));
    assert_int_equal(uthread_lock_acquire(l, false, -1), 0); /* held: try once, False */
    assert_true(uthread_lock_locked(l));
    assert_int_equal(uthread_lock_release(l), 0);
    assert_false(uthread_lock_locked(l));
    assert_int_equal(uthread_lock_acquire(l, false, -1), 1);
    assert_int_equal(uthread_lock_release(l), 0);
    uthread_lock_free(l);
}

static void test_releasing_an_unlocked_lock_is_runtimeerror(void **state)
{
    (void)state;
    uthread_lock *l = uthread_allocate_lock();
    assert_int_equal(uthread_lock_release(l), -1);
    assert_exc_msg(UPY_EXC_RUNTIMEERROR, "");
    assert_string_equal(tu_exc_text(), "RuntimeError: ");
    assert_int_equal(uthread_lock_acquire(l, true, -1), 1);
    assert_int_equal(uthread_lock_release(l), 0);
    assert_int_equal(uthread_lock_release(l), -1);
    assert_exc_msg(UPY_EXC_RUNTIMEERROR, "");
    uthread_lock_free(l);
}

static int releaser(void *arg)
{
    return uthread_lock_release(arg);
}

/* firmware-notes §0.2: FreeRTOS gives the mutex back whoever asks. */
static void test_another_thread_can_release(void **state)
{
    (void)state;
    uthread_lock *l = uthread_allocate_lock();
    assert_int_equal(uthread_lock_acquire(l, true, -1), 1);
    assert_int_equal(uthread_start_new_thread(releaser, l), 0);
    assert_int_equal(wait_done(), 0);
    assert_false(uthread_lock_locked(l));
    assert_int_equal(uthread_lock_acquire(l, false, -1), 1);
    assert_int_equal(uthread_lock_release(l), 0);
    uthread_lock_free(l);
}

static uthread_lock *contended;
static int waiter_result = -1;

static int waiter(void *arg)
{
    double timeout = *(double *)arg;
    waiter_result = uthread_lock_acquire(contended, true, timeout);
    return 0;
}

/* The holder is main; a third thread's release lets the waiting one in. */
static void test_release_by_non_holder_wakes_a_waiter(void **state)
{
    (void)state;
    static double no_timeout = -1;
    contended = uthread_allocate_lock();
    waiter_result = -1;
    assert_int_equal(uthread_lock_acquire(contended, true, -1), 1);
    assert_int_equal(uthread_start_new_thread(waiter, &no_timeout), 0);
    assert_int_equal(uthread_start_new_thread(releaser, contended), 0);
    assert_int_equal(wait_done(), 0);
    assert_int_equal(waiter_result, 1);
    assert_true(uthread_lock_locked(contended)); /* the waiter holds it now */
    uthread_lock_free(contended);
}

/* acquire(waitflag, timeout): the timeout is accepted and ignored (modthread.c). */
static void test_acquire_timeout_is_ignored(void **state)
{
    (void)state;
    static double one_ms = 0.001;
    contended = uthread_allocate_lock();
    waiter_result = -1;
    assert_int_equal(uthread_lock_acquire(contended, true, -1), 1);
    /* A non-waiting acquire does not wait for its timeout... */
    uint64_t start = tu_now_ms();
    assert_int_equal(uthread_lock_acquire(contended, false, 60.0), 0);
    assert_true(tu_now_ms() - start < 5000);
    /* ...and a waiting one does not give up at it: 100 timeouts later it still waits. */
    assert_int_equal(uthread_start_new_thread(waiter, &one_ms), 0);
    assert_int_equal(uthread_wait_all(100), -1);
    assert_exc_msg(UPY_EXC_TIMEOUTERROR, "timed out");
    assert_int_equal(waiter_result, -1);
    assert_int_equal(uthread_lock_release(contended), 0);
    assert_int_equal(wait_done(), 0);
    assert_int_equal(waiter_result, 1);
    uthread_lock_free(contended);
}

static void test_null_lock_is_typeerror(void **state)
{
    (void)state;
    assert_int_equal(uthread_lock_acquire(NULL, true, -1), -1);
    assert_exc_msg(UPY_EXC_TYPEERROR, "expected a lock, got NULL");
    assert_int_equal(uthread_lock_release(NULL), -1);
    assert_exc_msg(UPY_EXC_TYPEERROR, "expected a lock, got NULL");
    assert_false(uthread_lock_locked(NULL));
    uthread_lock_free(NULL);
}

int main(void)
{
    tu_clear_upysock_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_new_thread_runs_fn_with_arg),
        cmocka_unit_test(test_start_new_thread_needs_a_function),
        cmocka_unit_test(test_unhandled_exceptions_are_printed_as_the_device_prints_them),
        cmocka_unit_test(test_wait_all_times_out_while_a_thread_runs),
        cmocka_unit_test(test_exit_ends_the_thread),
        cmocka_unit_test(test_exit_outside_a_started_thread_is_runtimeerror),
        cmocka_unit_test(test_stack_size_records_and_resets),
        cmocka_unit_test(test_a_stack_no_memory_can_hold_is_memoryerror),
        cmocka_unit_test(test_get_ident_differs_between_threads),
        cmocka_unit_test(test_unhandled_hook_replaces_the_printer),
        cmocka_unit_test(test_activity_is_none_running_without_threads),
        cmocka_unit_test(test_a_poll_of_closed_sockets_without_timeout_is_blocked_forever),
        cmocka_unit_test(test_a_thread_waiting_for_a_lock_no_device_thread_holds_is_blocked_forever),
        cmocka_unit_test(test_lock_acquire_release_locked),
        cmocka_unit_test(test_releasing_an_unlocked_lock_is_runtimeerror),
        cmocka_unit_test(test_another_thread_can_release),
        cmocka_unit_test(test_release_by_non_holder_wakes_a_waiter),
        cmocka_unit_test(test_acquire_timeout_is_ignored),
        cmocka_unit_test(test_null_lock_is_typeerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
