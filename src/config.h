/*
 * Setters behind upy_config_* and the UPYSOCK_* variables. Each validates fully before changing
 * anything and, on failure, writes a message into err and returns -1.
 */
#ifndef UPYSOCK_CONFIG_H
#define UPYSOCK_CONFIG_H

#include <stddef.h>

int profile_select(const char *name, char *err, size_t errsize);
int profile_set_limit(int which, long value, char *err, size_t errsize);
int profile_set_limits(const char *spec, char *err, size_t errsize);

int vnet_set_rules(const char *spec, char *err, size_t errsize);
int vnet_set_mode(const char *mode, char *err, size_t errsize);
int vnet_set_flash(const char *dir, char *err, size_t errsize);
int vnet_set_log(const char *spec, char *err, size_t errsize); /* stderr | fd:N | <path> */
int vnet_set_log_fd(int fd);                                    /* -1: none; else an open fd */

#endif
