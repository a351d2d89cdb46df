/* uerrno.errorcode, generated from the one table in uerrno.h. */
#include <stddef.h>

#include "upysock/uerrno.h"

struct name_entry {
    int code;
    const char *name;
};

#define POSIX_ENTRY_(name, value, listed) {(listed) ? (value) : 0, (listed) ? #name : NULL},
#define EXTRA_ENTRY_(name, value) {(value), #name},
static const struct name_entry names[] = {UERRNO_POSIX_LIST(POSIX_ENTRY_) UERRNO_EXTRA_LIST(EXTRA_ENTRY_)};

const char *uerrno_errorcode(int code)
{
    /* The first entry wins, as in the device's dict built from the same list. */
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].name && names[i].code == code)
            return names[i].name;
    return NULL;
}
