/*
 * Kernel errno → device errno: the one translation table at the border (lwIP's
 * err_to_errno_table is the model). Names translate to the same newlib name (uerrno.h); a few
 * kernel conditions are what lwIP reports under another name (SEMANTICS §13).
 */
#include <errno.h>
#include <stddef.h>

#include "host.h"
#include "upysock/uerrno.h"

/* Conditions lwIP reports differently from Linux. */
static const struct {
    int kernel, device;
} conditions[] = {
    {ECONNREFUSED, UERRNO_ECONNRESET},  /* lwIP ERR_RST: a refusal is a reset */
    {ETIMEDOUT, UERRNO_ECONNABORTED},   /* lwIP ERR_ABRT: SYN/retransmit/keepalive give-up */
    {EPIPE, UERRNO_ECONNRESET},         /* the peer's RST, as lwIP would report it */
    {ENETUNREACH, UERRNO_EHOSTUNREACH}, /* lwIP ERR_RTE: no route */
    {EWOULDBLOCK, UERRNO_EAGAIN},
};

#define BY_NAME_(name, value, listed) [name] = (value),
static const short by_name[] = {UERRNO_POSIX_LIST(BY_NAME_)};

int host_errno_to_device(int kernel_errno)
{
    for (size_t i = 0; i < sizeof conditions / sizeof conditions[0]; i++)
        if (conditions[i].kernel == kernel_errno)
            return conditions[i].device;
    if (kernel_errno > 0 && (size_t)kernel_errno < sizeof by_name / sizeof by_name[0] &&
        by_name[kernel_errno])
        return by_name[kernel_errno];
    /* A kernel error newlib has no name for: lwIP's catch-all is ERR_ARG → EIO. */
    return UERRNO_EIO;
}
