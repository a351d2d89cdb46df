/*
 * Setters behind upy_config_* and the UPYSOCK_* variables. Each validates fully before changing
 * anything and, on failure, writes a message into err and returns -1.
 */
#ifndef UPYSOCK_CONFIG_H
#define UPYSOCK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* A number in a UPYSOCK_* variable: decimal digits only (no sign, space or base prefix), so
 * "+5", " 5" and "-0" are malformed. Saturates at LONG_MAX, for the caller's range check. */
bool config_parse_digits(const char *s, long *out);

int profile_select(const char *name, char *err, size_t errsize);
int profile_set_limit(int which, long value, char *err, size_t errsize);
int profile_set_limits(const char *spec, char *err, size_t errsize);

int vnet_set_rules(const char *spec, char *err, size_t errsize);
int vnet_set_mode(const char *mode, char *err, size_t errsize);
int vnet_set_flash(const char *dir, char *err, size_t errsize);

#endif
