/*
 * Setters behind upy_config_* and the UPYSOCK_* variables. Each validates fully before changing
 * anything and, on failure, writes a message into err and returns -1.
 */
#ifndef UPYSOCK_CONFIG_H
#define UPYSOCK_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

/* A number in a UPYSOCK_* variable: decimal digits only (no sign, space or base prefix), so
 * "+5", " 5" and "-0" are malformed. Saturates at LONG_MAX, for the caller's range check.
 * Inline: the files that parse (config, profile, vnet) must not depend on each other. */
static inline bool config_parse_digits(const char *s, long *out)
{
    long v = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v >= LONG_MAX / 10 ? LONG_MAX : v * 10 + (*s - '0');
    }
    *out = v;
    return true;
}

int profile_select(const char *name, char *err, size_t errsize);
int profile_set_limit(int which, long value, char *err, size_t errsize);
int profile_set_limits(const char *spec, char *err, size_t errsize);

int vnet_set_rules(const char *spec, char *err, size_t errsize);
int vnet_set_mode(const char *mode, char *err, size_t errsize);
int vnet_set_flash(const char *dir, char *err, size_t errsize);
int vnet_set_log(const char *spec, char *err, size_t errsize); /* stderr | fd:N | <path> */
int vnet_set_device_ip(const char *addr, char *err, size_t errsize); /* the board's own address */
int vnet_set_log_fd(int fd);                                    /* -1: none; else an open fd */

#endif
