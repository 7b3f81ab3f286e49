#include "CMonitor.h"

int cmonitor_errno(void) { return errno; }
