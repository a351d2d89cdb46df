/*
 * _thread over detached pthreads: the device's start/exit/unhandled-exception behaviour, its
 * stack_size bookkeeping, and its locks (a FreeRTOS mutex that any thread may give back, so in
 * effect a binary semaphore).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "host/host.h"
#include "host/tls.h"
#include "internal.h"
#include "upysock/uthread.h"

#define DEVICE_MIN_STACK 5120        /* mpthreadport.c: 0 or less becomes 5 KiB */
#define HOST_MIN_STACK (256 * 1024)  /* what glibc + OpenSSL need, whatever the device says */

struct start {
    uthread_fn fn;
    void *arg;
    const char *name;
};

/* A running thread started here, and the wait it is in (thread_wait_begin), if any. */
struct thread_rec {
    struct thread_rec *next;
    bool (*forever)(const void *arg); /* NULL: not in a wait without timeout */
    const void *arg;
};

static pthread_mutex_t threads_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t threads_done = PTHREAD_COND_INITIALIZER;
static int threads_running;        /* counted from start_new_thread, before the thread runs */
static struct thread_rec *threads; /* the ones that run */
static long stack_size_value;      /* _thread.stack_size(): 0 until set */
static _Thread_local struct thread_rec *self; /* NULL in threads not started here */

static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;
static uthread_unhandled_hook unhandled_hook;
static void *unhandled_user;

/* One thread fewer; `rec` (NULL: it never ran) leaves the list. */
static void thread_ended(struct thread_rec *rec)
{
    pthread_mutex_lock(&threads_lock);
    for (struct thread_rec **p = &threads; rec && *p; p = &(*p)->next) {
        if (*p == rec) {
            *p = rec->next;
            break;
        }
    }
    if (--threads_running == 0)
        pthread_cond_broadcast(&threads_done);
    pthread_mutex_unlock(&threads_lock);
}

/* modthread.c thread_entry: the repr of the function, then the exception, on stdout. */
static void print_unhandled(const char *name, uthread_fn fn, const upy_exc *exc, void *user)
{
    (void)user;
    char line[UPY_EXC_MESSAGE_MAX + 64];
    upy_exc_format(exc, line, sizeof line);
    flockfile(stdout);
    printf("Unhandled exception in thread started by <function %s at %p>\n%s\n", name, (void *)(uintptr_t)fn, line);
    fflush(stdout);
    funlockfile(stdout);
}

static void report_unhandled(const struct start *st)
{
    pthread_mutex_lock(&hook_lock);
    uthread_unhandled_hook hook = unhandled_hook ? unhandled_hook : print_unhandled;
    void *user = unhandled_user;
    pthread_mutex_unlock(&hook_lock);
    hook(st->name, st->fn, upy_exc_current(), user);
}

void uthread_set_unhandled_hook(uthread_unhandled_hook hook, void *user)
{
    pthread_mutex_lock(&hook_lock);
    unhandled_hook = hook;
    unhandled_user = user;
    pthread_mutex_unlock(&hook_lock);
}

/* A started thread's last act. What the host libraries keep per thread (OpenSSL's error queue)
 * goes first: left to the thread-exit destructors, it would still be in use after
 * uthread_wait_all() returned and the process began to exit. */
static void thread_exiting(void *unused)
{
    (void)unused;
    tls_thread_done();
    thread_ended(self);
}

static void *trampoline(void *arg)
{
    struct start st = *(struct start *)arg;
    free(arg);
    struct thread_rec rec = {0};
    pthread_mutex_lock(&threads_lock);
    rec.next = threads;
    threads = self = &rec;
    pthread_mutex_unlock(&threads_lock);
    pthread_cleanup_push(thread_exiting, NULL);
    if (st.fn(st.arg) < 0)
        report_unhandled(&st);
    pthread_cleanup_pop(1);
    return NULL;
}

/* --- waits and the runner's question -------------------------------------------------------- */

void thread_wait_begin(bool (*forever)(const void *arg), const void *arg)
{
    if (!self)
        return;
    pthread_mutex_lock(&threads_lock);
    self->forever = forever;
    self->arg = arg;
    pthread_mutex_unlock(&threads_lock);
}

void thread_wait_end(void)
{
    if (!self)
        return;
    pthread_mutex_lock(&threads_lock);
    self->forever = NULL;
    pthread_mutex_unlock(&threads_lock);
}

uthread_activity uthread_activity_now(void)
{
    pthread_mutex_lock(&threads_lock);
    int stuck = 0;
    for (struct thread_rec *t = threads; t; t = t->next)
        stuck += t->forever && t->forever(t->arg);
    int running = threads_running; /* more than the list while a new thread starts */
    pthread_mutex_unlock(&threads_lock);
    return running == 0 ? UTHREAD_NONE_RUNNING : stuck == running ? UTHREAD_BLOCKED_FOREVER : UTHREAD_RUNNING;
}

int uthread_start_new_thread_named(uthread_fn fn, void *arg, const char *name)
{
    if (!fn)
        return upy__raise(UPY__E_NOT_CALLABLE);
    struct start *st = malloc(sizeof *st);
    if (!st)
        return upy__raise(UPY__E_NO_THREAD);
    *st = (struct start){fn, arg, name ? name : "?"};
    pthread_mutex_lock(&threads_lock);
    long recorded = stack_size_value < DEVICE_MIN_STACK ? DEVICE_MIN_STACK : stack_size_value;
    threads_running++;
    pthread_mutex_unlock(&threads_lock);
    if (host_thread_spawn(trampoline, st, recorded > HOST_MIN_STACK ? (size_t)recorded : HOST_MIN_STACK) < 0) {
        free(st);
        thread_ended(NULL);
        /* The board allocates the task's stack first and only that can fail (firmware-notes,
         * "Behaviour rows without a test": S2.2-48), so every refusal is its MemoryError. */
        return upy__raise(UPY__E_NO_THREAD);
    }
    return 0;
}

int uthread_exit(void)
{
    if (!self)
        return upy__raise(UPY__E_EXIT_OUTSIDE);
    pthread_exit(NULL);
}

unsigned long uthread_get_ident(void)
{
    return host_thread_id();
}

long uthread_stack_size(void)
{
    /* The firmware's stack_size() with no argument also stores 0 (firmware-notes §7). */
    pthread_mutex_lock(&threads_lock);
    long prior = stack_size_value;
    stack_size_value = 0;
    pthread_mutex_unlock(&threads_lock);
    return prior;
}

long uthread_set_stack_size(long size)
{
    pthread_mutex_lock(&threads_lock);
    long prior = stack_size_value;
    stack_size_value = size;
    pthread_mutex_unlock(&threads_lock);
    return prior;
}

int uthread_wait_all(int timeout_ms)
{
    host_deadline d = host_deadline_in_ms(timeout_ms);
    host_waiter on_done = {.on = HOST_WAIT_COND, .cond = &threads_done, .mutex = &threads_lock};
    pthread_mutex_lock(&threads_lock);
    while (threads_running > 0 && (host_wait(&on_done, d) > 0 || host_deadline_left_ms(d) != 0))
        ;
    int left = threads_running;
    pthread_mutex_unlock(&threads_lock);
    return left ? upy__raise(UPY__E_TIMEOUT) : 0;
}

/* --- locks -------------------------------------------------------------------------------- */

struct uthread_lock {
    pthread_mutex_t mutex;
    pthread_cond_t released;
    bool locked;
};

uthread_lock *uthread_allocate_lock(void)
{
    uthread_lock *l = malloc(sizeof *l);
    if (!l) {
        upy__raise(UPY__E_MEMORY);
        return NULL;
    }
    pthread_mutex_init(&l->mutex, NULL);
    pthread_cond_init(&l->released, NULL);
    l->locked = false;
    return l;
}

/* A lock is given back only by someone else: if every device thread waits, no one will. */
static bool released_by_others(const void *lock)
{
    (void)lock;
    return true;
}

int uthread_lock_acquire(uthread_lock *lock, bool waitflag, double timeout)
{
    (void)timeout; /* accepted and ignored, as modthread.c does */
    if (!lock)
        return upy__raise(UPY__E_NULL_LOCK);
    pthread_mutex_lock(&lock->mutex);
    if (waitflag && lock->locked) {
        thread_wait_begin(released_by_others, lock);
        host_waiter on_release = {.on = HOST_WAIT_COND, .cond = &lock->released, .mutex = &lock->mutex};
        while (lock->locked)
            host_wait(&on_release, HOST_NEVER);
        thread_wait_end();
    }
    bool got = !lock->locked;
    lock->locked = true;
    pthread_mutex_unlock(&lock->mutex);
    return got;
}

int uthread_lock_release(uthread_lock *lock)
{
    if (!lock)
        return upy__raise(UPY__E_NULL_LOCK);
    pthread_mutex_lock(&lock->mutex);
    bool was = lock->locked;
    lock->locked = false;
    pthread_mutex_unlock(&lock->mutex);
    if (!was)
        return upy__raise(UPY__E_NOT_HELD); /* no message: "RuntimeError: " */
    pthread_cond_signal(&lock->released);
    return 0;
}

bool uthread_lock_locked(uthread_lock *lock)
{
    if (!lock)
        return false;
    pthread_mutex_lock(&lock->mutex);
    bool locked = lock->locked;
    pthread_mutex_unlock(&lock->mutex);
    return locked;
}

void uthread_lock_free(uthread_lock *lock)
{
    if (!lock)
        return;
    pthread_cond_destroy(&lock->released);
    pthread_mutex_destroy(&lock->mutex);
    free(lock);
}
