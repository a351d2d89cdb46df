/*
 * Fault injection's attachment to the host seam: the seam's hook points, each asking the engine
 * (fault.c) and producing the board's result for what it decides. Until the seam lands it only
 * records that rules exist.
 */
#include "fault.h"

void fault_attach(bool on)
{
    (void)on;
}
