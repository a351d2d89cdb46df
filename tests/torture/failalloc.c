#define _GNU_SOURCE
#include "failalloc.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

static atomic_long counts[FA_KINDS];
static atomic_long fail_at[FA_KINDS];
static atomic_bool fired;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);

/* Count one allocation of `kind`; true when it is the one to fail. */
static bool fails(enum fa_kind kind)
{
    long n = atomic_fetch_add(&counts[kind], 1) + 1;
    if (n != atomic_load(&fail_at[kind]))
        return false;
    atomic_store(&fired, true);
    errno = ENOMEM;
    return true;
}

void *__wrap_malloc(size_t n)
{
    return fails(FA_OWN) ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return fails(FA_OWN) ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return fails(FA_OWN) ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = __wrap_malloc(n);
    return copy ? memcpy(copy, s, n) : NULL;
}

static void *ssl_malloc(size_t n, const char *file, int line)
{
    (void)file, (void)line;
    return fails(FA_SSL) ? NULL : __real_malloc(n);
}

static void *ssl_realloc(void *p, size_t n, const char *file, int line)
{
    (void)file, (void)line;
    return fails(FA_SSL) ? NULL : __real_realloc(p, n);
}

static void ssl_free(void *p, const char *file, int line)
{
    (void)file, (void)line;
    free(p);
}

void fa_install(void)
{
    if (!CRYPTO_set_mem_functions(ssl_malloc, ssl_realloc, ssl_free))
        abort(); /* OpenSSL allocated before: the counts would be wrong */
}

void fa_arm(enum fa_kind kind, long nth)
{
    for (int k = 0; k < FA_KINDS; k++) {
        atomic_store(&counts[k], 0);
        atomic_store(&fail_at[k], 0);
    }
    atomic_store(&fired, false);
    atomic_store(&fail_at[kind], nth);
}

long fa_count(enum fa_kind kind)
{
    return atomic_load(&counts[kind]);
}

bool fa_fired(void)
{
    return atomic_load(&fired);
}
