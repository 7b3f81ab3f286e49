// CMonitor: the C library as berth-monitor (Embedded Swift, no Glibc module) sees it.
#ifndef BERTH_CMONITOR_H
#define BERTH_CMONITOR_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/// errno, which is a macro.
int cmonitor_errno(void);
#endif
