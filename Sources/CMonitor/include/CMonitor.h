// CMonitor: the C library as berth-monitor (Embedded Swift, no Glibc module) sees it.
//
// The headers below are imported as they are; what Swift cannot call directly (macros,
// variadic functions, GNU-only declarations, struct-heavy calls) has a small wrapper here,
// implemented in cmonitor.c. Every wrapper returns -1 and sets errno on failure.
#ifndef BERTH_CMONITOR_H
#define BERTH_CMONITOR_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
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
void cmonitor_set_errno(int value);

/// open(2) (variadic in libc) with O_CLOEXEC added.
int cmonitor_open(const char *path, int flags, int mode);
/// Sets or clears O_NONBLOCK.
int cmonitor_set_nonblocking(int fd, int on);
/// Sets FD_CLOEXEC.
int cmonitor_set_cloexec(int fd);

/// A listening SOCK_STREAM unix socket bound at `path` (an existing socket file there is
/// replaced), close-on-exec and non-blocking, the file created with `mode`.
int cmonitor_unix_listen(const char *path, int backlog, int mode);
/// accept4(2) with SOCK_CLOEXEC | SOCK_NONBLOCK.
int cmonitor_accept(int listener);
/// send(2) with MSG_NOSIGNAL | MSG_DONTWAIT.
ssize_t cmonitor_send(int fd, const void *data, size_t len);

/// CLOCK_MONOTONIC in nanoseconds.
int64_t cmonitor_monotonic_ns(void);
/// CLOCK_REALTIME: seconds and nanoseconds since the epoch.
void cmonitor_realtime(int64_t *seconds, int32_t *nanoseconds);

/// The process environment (`environ`).
char **cmonitor_environ(void);

/// Length of a file in bytes, or -1.
int64_t cmonitor_file_size(int fd);
/// Whether `path` exists (lstat succeeds).
int cmonitor_exists(const char *path);

#endif
