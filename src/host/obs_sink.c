/*
 * The observers' outputs. Each record is one write(2): with O_APPEND the kernel places it whole,
 * so threads need no lock between them and a killed program leaves whole records behind. An
 * output replaced while others write (upy_config_trace, ...) is closed only after their writes
 * (observe.h, obs_sink).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "observe.h"

static int open_spec(const char *spec, bool std_ok, bool append, bool *owned)
{
    *owned = false;
    if (std_ok && strcmp(spec, "stderr") == 0)
        return 2;
    if (std_ok && strncmp(spec, "fd:", 3) == 0) {
        char *end;
        long fd = strtol(spec + 3, &end, 10);
        if (end == spec + 3 || *end || fd < 0 || fd > 65535 || !host_fd_is_open((int)fd))
            return -1;
        return (int)fd;
    }
    *owned = true;
    return open(spec, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (append ? 0 : O_TRUNC), 0644);
}

static ssize_t write_plain(int fd, const void *rec, size_t len)
{
    ssize_t n;
    while ((n = write(fd, rec, len)) < 0 && errno == EINTR)
        ;
    return n;
}

/*
 * A write to a pipe or socket whose reader is gone raises SIGPIPE, whose default kills the
 * program: an output must end as a full disk does instead. The signal is blocked in this thread
 * only, around the write, so the program's own disposition and other threads are untouched; a
 * SIGPIPE this write left pending (thread-directed, so no other thread can take it) is consumed
 * before the mask is restored. One already pending before the write is the program's and stays.
 * send(MSG_NOSIGNAL) would cover sockets only, not the pipe of `fd:3 | reader` or stderr.
 */
static ssize_t write_unsignalled(int fd, const void *rec, size_t len)
{
    sigset_t pipe_only, old, pending;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE);
    ssize_t n = write_plain(fd, rec, len);
    if (n < 0 && errno == EPIPE && !was_pending) {
        int saved = errno;
        struct timespec now = {0, 0};
        while (sigtimedwait(&pipe_only, NULL, &now) < 0 && errno == EINTR)
            ;
        errno = saved;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return n;
}

/* Whether writes to fd can raise SIGPIPE: a pipe or a socket (a FIFO too). A file or a device
 * cannot, and then a record is one write(2), not four syscalls with the mask's. */
static bool can_raise_sigpipe(int fd)
{
    struct stat st;
    return fstat(fd, &st) != 0 || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode);
}

/* The one message of a sink that stops (a full disk, a reader gone), instead of failing the
 * call watched. stderr may be the broken pipe itself, hence the same unsignalled write. */
static void stopped(const obs_sink *s, ssize_t n)
{
    char line[160];
    int len = snprintf(line, sizeof line, "upysock: %s stopped: %s\n", s->name,
                       n < 0 ? strerror(errno) : "short write (disk full?)");
    write_unsignalled(2, line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1);
}

/* Until no write is in flight on a slot: each one in flight is one write(2) away from done. */
static void drain(atomic_uint *writers)
{
    while (atomic_load(writers) != 0)
        sched_yield();
}

/* fd (closed when retired if owned) becomes what writers use; the descriptor it replaces is
 * closed once the last write on it is over. */
static void publish(obs_sink *s, int fd, bool owned)
{
    pthread_mutex_lock(&s->replacing);
    int old = atomic_load(&s->active), next = !old;
    drain(&s->writers[next]); /* writers that saw the slot before the last replacement, leaving */
    atomic_store(&s->plain[next], fd >= 0 && !can_raise_sigpipe(fd));
    atomic_store(&s->fd[next], fd);
    s->owned[next] = owned ? fd : -1;
    atomic_store(&s->active, next);
    drain(&s->writers[old]);
    atomic_store(&s->fd[old], -1);
    if (s->owned[old] >= 0)
        close(s->owned[old]);
    s->owned[old] = -1;
    pthread_mutex_unlock(&s->replacing);
}

int obs_sink_open(obs_sink *s, const char *spec, bool std_ok, bool append, const void *head, size_t headlen,
                  char *err, size_t errsize)
{
    bool owned = false;
    errno = 0;
    int fd = spec[0] ? open_spec(spec, std_ok, append, &owned) : -1;
    if (spec[0] && fd < 0) {
        snprintf(err, errsize, "cannot write to '%s'%s%s", spec, errno ? ": " : "", errno ? strerror(errno) : "");
        return -1;
    }
    ssize_t n = fd >= 0 && headlen ? write_unsignalled(fd, head, headlen) : (ssize_t)headlen;
    if (n != (ssize_t)headlen) { /* as a failed record: the output stops, the program goes on */
        stopped(s, n);
        if (owned)
            close(fd);
        fd = -1;
    }
    publish(s, fd, owned);
    return 0;
}

/* Off, or a replacement retired the slot read between the two loads of obs_sink_on (a record
 * lost while the output stays on: the trace switched while a call was being recorded). Once
 * more, until the slot read is still the active one. */
bool obs_sink_on_recheck(obs_sink *s)
{
    for (;;) {
        int at = atomic_load(&s->active);
        if (atomic_load(&s->fd[at]) >= 0)
            return true;
        if (atomic_load(&s->active) == at)
            return false;
    }
}

/* The slot to write on, counted in it: a replacement waits for this write before it closes the
 * slot's descriptor. */
static int enter(obs_sink *s)
{
    for (;;) {
        int at = atomic_load(&s->active);
        atomic_fetch_add(&s->writers[at], 1);
        if (atomic_load(&s->active) == at) /* else a replacement came between: it may not wait */
            return at;
        atomic_fetch_sub(&s->writers[at], 1);
    }
}

void obs_sink_write(obs_sink *s, const void *rec, size_t len)
{
    if (!obs_sink_on(s))
        return;
    int saved = errno; /* the watched call's errno is the caller's business */
    int at = enter(s);
    int fd = atomic_load(&s->fd[at]);
    ssize_t n = fd < 0 ? (ssize_t)len : atomic_load(&s->plain[at]) ? write_plain(fd, rec, len)
                                                                   : write_unsignalled(fd, rec, len);
    if (n != (ssize_t)len && atomic_compare_exchange_strong(&s->fd[at], &fd, -1))
        stopped(s, n); /* the descriptor stays open until the slot is retired: others may be on it */
    atomic_fetch_sub(&s->writers[at], 1);
    errno = saved;
}
