/* Clocks, threads and plain fd output: the rest of what the library asks of the host. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "host.h"

uint64_t host_monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int64_t host_realtime_s(void)
{
    return (int64_t)time(NULL);
}

int host_thread_spawn(void *(*fn)(void *), void *arg, size_t stack_size)
{
    pthread_attr_t attr;
    pthread_t tid;
    if (pthread_attr_init(&attr) != 0)
        return -host_errno_to_device(ENOMEM);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (stack_size)
        pthread_attr_setstacksize(&attr, stack_size);
    int rc = pthread_create(&tid, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    return rc ? -host_errno_to_device(rc) : 0;
}

unsigned long host_thread_id(void)
{
    return (unsigned long)pthread_self();
}

unsigned long host_kernel_tid(void)
{
    return (unsigned long)gettid();
}

void host_write_line(int fd, const char *line)
{
    size_t len = strlen(line);
    while (write(fd, line, len) < 0 && errno == EINTR)
        ;
}

int host_open_append(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    return fd < 0 ? -host_errno_to_device(errno) : fd;
}

bool host_fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

int host_note_new(void)
{
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return fd < 0 ? -host_errno_to_device(errno) : fd;
}

void host_note_post(int note)
{
    uint64_t one = 1;
    while (write(note, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

void host_note_take(int note)
{
    uint64_t count;
    while (read(note, &count, sizeof count) < 0 && errno == EINTR)
        ;
}

void host_note_free(int note)
{
    close(note);
}
