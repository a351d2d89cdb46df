/*
 * The observers' outputs. Each record is one write(2): with O_APPEND the kernel places it whole,
 * so threads need no lock between them and a killed program leaves whole records behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int obs_sink_open(obs_sink *s, const char *spec, bool std_ok, bool append, char *err, size_t errsize)
{
    bool owned = false;
    errno = 0;
    int fd = spec[0] ? open_spec(spec, std_ok, append, &owned) : -1;
    if (spec[0] && fd < 0) {
        snprintf(err, errsize, "cannot write to '%s'%s%s", spec, errno ? ": " : "", errno ? strerror(errno) : "");
        return -1;
    }
    int old = atomic_exchange(&s->fd, fd);
    if (old >= 0 && s->owned)
        close(old);
    s->owned = owned;
    return 0;
}

void obs_sink_write(obs_sink *s, const void *rec, size_t len)
{
    int fd = atomic_load_explicit(&s->fd, memory_order_relaxed);
    if (fd < 0)
        return;
    int saved = errno; /* the watched call's errno is the caller's business */
    ssize_t n;
    while ((n = write(fd, rec, len)) < 0 && errno == EINTR)
        ;
    if (n != (ssize_t)len && atomic_compare_exchange_strong(&s->fd, &fd, -1)) {
        char line[160];
        snprintf(line, sizeof line, "upysock: %s stopped: %s\n", s->name,
                 n < 0 ? strerror(errno) : "short write (disk full?)");
        host_write_line(2, line);
    }
    errno = saved;
}
