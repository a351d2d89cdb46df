/*
 * The environment and its errors. UPYSOCK_* variables are applied once, at the first use of the
 * library; an upy_config_* call made later overrides its variable (and clears that variable's
 * error). A bad variable is kept as an error that config_ready() raises, so the first socket
 * call fails with ValueError naming it instead of running with a silently ignored setting.
 */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fault.h"
#include "host/host.h"
#include "host/observe.h"
#include "internal.h"
#include "vnet.h"

/* In the order they are applied: limits go on top of the profile, and the rules' sandbox check
 * needs the network mode. */
enum {
    VAR_PROFILE, VAR_LIMITS, VAR_NET, VAR_REMAP, VAR_FLASH, VAR_LOG, VAR_FAULTS,
    VAR_DEVICE_IP, VAR_TRACE, VAR_TRACE_DATA, VAR_PCAP, VAR_KEYLOG, VAR_COUNT
};

static const char *const var_names[VAR_COUNT] = {
    "UPYSOCK_PROFILE", "UPYSOCK_LIMITS", "UPYSOCK_NET", "UPYSOCK_REMAP", "UPYSOCK_FLASH", "UPYSOCK_LOG",
    "UPYSOCK_FAULTS", "UPYSOCK_DEVICE_IP", "UPYSOCK_TRACE", "UPYSOCK_TRACE_DATA", "UPYSOCK_PCAP",
    "UPYSOCK_KEYLOG",
};

/* Each variable's setter: it checks the whole value before it changes anything. */
static int (*const setters[VAR_COUNT])(const char *, char *, size_t) = {
    [VAR_PROFILE] = profile_select,      [VAR_LIMITS] = profile_set_limits,
    [VAR_NET] = vnet_set_mode,           [VAR_REMAP] = vnet_set_rules,
    [VAR_FLASH] = vnet_set_flash,        [VAR_LOG] = vnet_set_log,
    [VAR_FAULTS] = fault_configure,      [VAR_DEVICE_IP] = vnet_set_device_ip,
    [VAR_TRACE] = observe_set_trace,     [VAR_TRACE_DATA] = observe_set_trace_data,
    [VAR_PCAP] = observe_set_pcap,       [VAR_KEYLOG] = observe_set_keylog,
};

static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t error_lock = PTHREAD_MUTEX_INITIALIZER;
static char errors[VAR_COUNT][UPY_EXC_MESSAGE_MAX];
static atomic_int error_count;

static void set_error(int var, const char *message)
{
    pthread_mutex_lock(&error_lock);
    bool had = errors[var][0] != '\0';
    if (message)
        snprintf(errors[var], sizeof errors[var], "%s: %s", var_names[var], message);
    else
        errors[var][0] = '\0';
    atomic_fetch_add(&error_count, (message != NULL) - had);
    pthread_mutex_unlock(&error_lock);
}

static void load_env(void)
{
    for (int var = 0; var < VAR_COUNT; var++) {
        const char *value = getenv(var_names[var]);
        if (!value && var == VAR_KEYLOG)
            value = getenv("SSLKEYLOGFILE"); /* as curl and browsers honour it */
        char err[UPY_EXC_MESSAGE_MAX - 20]; /* room for "UPYSOCK_PROFILE: " in front */
        if (value && setters[var](value, err, sizeof err) < 0)
            set_error(var, err);
    }
}

int config_ready(void)
{
    pthread_once(&env_once, load_env);
    if (atomic_load_explicit(&error_count, memory_order_acquire) == 0)
        return 0;
    char message[UPY_EXC_MESSAGE_MAX] = "";
    pthread_mutex_lock(&error_lock);
    for (int var = 0; var < VAR_COUNT && !message[0]; var++)
        memcpy(message, errors[var], sizeof message);
    pthread_mutex_unlock(&error_lock);
    if (!message[0])
        return 0;
    upy_raise(UPY_EXC_VALUEERROR, 0, message); /* its text is ours: the one code says it is set */
    return UPY__E_RAISED;
}

/* An API setter: the environment first, then the call, which replaces the variable's error. */
static int set_by_api(int var, int (*setter)(const char *, char *, size_t), const char *value)
{
    pthread_once(&env_once, load_env);
    char err[UPY_EXC_MESSAGE_MAX];
    if (!value)
        return upy__raise(UPY__E_INVALID_ARGS);
    if (setter(value, err, sizeof err) < 0)
        return upy_raise(UPY_EXC_VALUEERROR, 0, err); /* the setter's own text */
    set_error(var, NULL);
    return 0;
}

int upy_config_profile(const char *name)
{
    int rc = set_by_api(VAR_PROFILE, profile_select, name);
    if (rc == 0)
        set_error(VAR_LIMITS, NULL); /* the overrides went with the old profile */
    return rc;
}

int upy_config_limit(upy_limit which, long value)
{
    pthread_once(&env_once, load_env);
    char err[UPY_EXC_MESSAGE_MAX];
    if (profile_set_limit((int)which, value, err, sizeof err) < 0)
        return upy_raise(UPY_EXC_VALUEERROR, 0, err); /* the setter's own text */
    set_error(VAR_LIMITS, NULL);
    return 0;
}

int upy_config_limits(const char *spec)
{
    return set_by_api(VAR_LIMITS, profile_set_limits, spec);
}

int upy_config_log_to(const char *spec)
{
    return set_by_api(VAR_LOG, vnet_set_log, spec);
}

int upy_config_remap(const char *rules)
{
    return set_by_api(VAR_REMAP, vnet_set_rules, rules);
}

int upy_config_faults(const char *rules)
{
    return set_by_api(VAR_FAULTS, fault_configure, rules);
}

int upy_config_net(const char *mode)
{
    return set_by_api(VAR_NET, vnet_set_mode, mode);
}

int upy_config_flash(const char *dir)
{
    return set_by_api(VAR_FLASH, vnet_set_flash, dir);
}

int upy_config_log(int fd)
{
    pthread_once(&env_once, load_env);
    if (vnet_set_log_fd(fd) < 0)
        return upy__raise(UPY__E_LOG_FD);
    set_error(VAR_LOG, NULL);
    return 0;
}

int upy_config_device_ip(const char *addr)
{
    return set_by_api(VAR_DEVICE_IP, vnet_set_device_ip, addr);
}

size_t upy_config_get_device_ip(char *out, size_t size)
{
    config_ready();
    char ip[16];
    vnet_format_ip(vnet_device_ip(), ip);
    return (size_t)snprintf(out, size, "%s", ip);
}

int upy_config_trace(const char *spec)
{
    return set_by_api(VAR_TRACE, observe_set_trace, spec);
}

int upy_config_trace_data(long bytes)
{
    char count[24];
    snprintf(count, sizeof count, "%ld", bytes);
    return set_by_api(VAR_TRACE_DATA, observe_set_trace_data, count);
}

int upy_config_pcap(const char *path)
{
    return set_by_api(VAR_PCAP, observe_set_pcap, path);
}

int upy_config_keylog(const char *path)
{
    return set_by_api(VAR_KEYLOG, observe_set_keylog, path);
}

int upy_config_check(void)
{
    return config_ready();
}

/* The public readers apply the environment first, as every entry point does. */
const upy_profile *upy_profile_current(void)
{
    config_ready();
    return profile();
}

size_t upy_config_map_path(const char *path, char *out, size_t size)
{
    config_ready();
    return vnet_map_path(path, out, size);
}
