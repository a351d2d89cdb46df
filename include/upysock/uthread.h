/*
 * upysock — _thread: the thread calls socket code on the board uses, over detached pthreads.
 *
 * As on the device, a started thread runs on its own: ending main() would end the process, so a
 * program that wants the board's "the script ended but the threads go on" calls
 * uthread_wait_all() at the end of main().
 */
#ifndef UPYSOCK_UTHREAD_H
#define UPYSOCK_UTHREAD_H

#include <stdbool.h>

#include "upy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A thread function. Returning -1 means an exception escaped (the current exception, set by the
 * failing upysock call or by upy_raise): the device prints
 *   Unhandled exception in thread started by <function NAME at 0x...>
 * followed by the exception, and only that thread ends. */
typedef int (*uthread_fn)(void *arg);

/* start_new_thread(function, args): runs fn(arg) in a new detached thread. Returns 0 (the
 * device returns None); -1 with MemoryError("can't create thread") when the host refuses (on
 * the board only the stack's allocation can fail). */
#define uthread_start_new_thread(fn, arg) uthread_start_new_thread_named((fn), (arg), #fn)

/* The function behind uthread_start_new_thread(); `name` is what the unhandled-exception line
 * shows. */
UPY_API int uthread_start_new_thread_named(uthread_fn fn, void *arg, const char *name);

/* _thread.exit(): end the calling thread silently (SystemExit). Does not return; from a thread
 * not started by uthread_start_new_thread → -1, RuntimeError. */
UPY_API int uthread_exit(void);

/* get_ident(): a non-zero number unique to the calling thread while it runs. */
UPY_API unsigned long uthread_get_ident(void);

/* stack_size(): the recorded stack size for new threads (0, the default, means the device's
 * 5 KiB). As on the device, asking also resets it to 0. */
UPY_API long uthread_stack_size(void);

/* stack_size(n): record n and return the previous value. The device gives threads max(n, 5 KiB);
 * host threads get at least 256 KiB whatever is recorded, because glibc and OpenSSL need far more
 * stack than a FreeRTOS task. */
UPY_API long uthread_set_stack_size(long size);

/* Block until every thread started with uthread_start_new_thread has ended: 0. timeout_ms < 0
 * waits forever; on expiry → -1, TimeoutError. */
UPY_API int uthread_wait_all(int timeout_ms);

/* How an unhandled exception in a thread is reported: called in the dying thread, instead of the
 * device's two lines on stdout, with the name and function given to start_new_thread and the
 * exception. A language binding prints it its own way (its traceback). */
typedef void (*uthread_unhandled_hook)(const char *fn_name, uthread_fn fn, const upy_exc *exc, void *user);

/* Install `hook` (called with `user`), or NULL for the device's default printer. */
UPY_API void uthread_set_unhandled_hook(uthread_unhandled_hook hook, void *user);

/* What the threads started by uthread_start_new_thread are doing, for a runner that must know
 * whether anything more can happen (the board's REPL just sits there). */
typedef enum uthread_activity {
    UTHREAD_NONE_RUNNING = 0,    /* none is running */
    UTHREAD_RUNNING = 1,         /* at least one may still make progress */
    UTHREAD_BLOCKED_FOREVER = 2, /* every one waits for something no one can bring about any more:
                                    a poll/ipoll/select with no timeout whose registered objects
                                    are all closed (or none is registered), or a lock that only
                                    another of these threads could release */
} uthread_activity;

/* The answer now. Threads that are not started by uthread_start_new_thread (the main thread
 * included) are not counted: ask when they are done with device calls. */
UPY_API uthread_activity uthread_activity_now(void);

/* A lock from allocate_lock(). */
typedef struct uthread_lock uthread_lock;

/* allocate_lock(). NULL with MemoryError when out of memory. */
UPY_API uthread_lock *uthread_allocate_lock(void);

/* lock.acquire(waitflag, timeout) → 1 (True) when acquired, 0 (False) when waitflag is false and
 * the lock is held. As on the device the timeout is accepted and ignored: a waiting acquire waits
 * until it gets the lock. */
UPY_API int uthread_lock_acquire(uthread_lock *lock, bool waitflag, double timeout);

/* lock.release(). Releasing an unlocked lock → -1, RuntimeError. */
UPY_API int uthread_lock_release(uthread_lock *lock);

/* lock.locked(). */
UPY_API bool uthread_lock_locked(uthread_lock *lock);

/* Free a lock nobody holds or waits for (Python's garbage collector). NULL is ignored. */
UPY_API void uthread_lock_free(uthread_lock *lock);

#ifdef __cplusplus
}
#endif

#endif
