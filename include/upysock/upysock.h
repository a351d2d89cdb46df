/*
 * upysock — every public header at once, for programs and bindings that use the whole library.
 * Each header also compiles on its own.
 */
#ifndef UPYSOCK_UPYSOCK_H
#define UPYSOCK_UPYSOCK_H

#include "upy.h"
#include "upy_config.h"
#include "uerrno.h"
#include "usocket.h"
#include "uselect.h"
#include "ussl.h"
#include "uthread.h"
#include "utime.h"

#endif
