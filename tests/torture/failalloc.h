/*
 * Allocation failure on demand, beneath whatever allocator the build has (the sanitizers'
 * included): upysock's own calls reach malloc, calloc, realloc and strdup through the linker's
 * --wrap (tests/CMakeLists.txt), OpenSSL's through CRYPTO_set_mem_functions. Each kind is
 * counted from fa_arm(), and its nth allocation fails (NULL, errno ENOMEM).
 */
#ifndef UPYSOCK_FAILALLOC_H
#define UPYSOCK_FAILALLOC_H

#include <stdbool.h>

enum fa_kind { FA_OWN, FA_SSL, FA_KINDS };

/* Route OpenSSL's allocations through the counter. Before anything uses OpenSSL. */
void fa_install(void);

/* Count from zero again, and fail the nth allocation of `kind` (1-based; 0: none). */
void fa_arm(enum fa_kind kind, long nth);

/* Allocations of `kind` since fa_arm. */
long fa_count(enum fa_kind kind);

/* The armed allocation was reached (and failed). */
bool fa_fired(void);

#endif
