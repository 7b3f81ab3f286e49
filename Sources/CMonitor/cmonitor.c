#define _GNU_SOURCE
#include "CMonitor.h"

int cmonitor_errno(void) { return errno; }
void cmonitor_set_errno(int value) { errno = value; }

int cmonitor_open(const char *path, int flags, int mode) {
  int fd;
  do { fd = open(path, flags | O_CLOEXEC, (mode_t)mode); } while (fd < 0 && errno == EINTR);
  return fd;
}

int cmonitor_set_nonblocking(int fd, int on) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return -1;
  flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  return fcntl(fd, F_SETFL, flags);
}

int cmonitor_set_cloexec(int fd) { return fcntl(fd, F_SETFD, FD_CLOEXEC); }

int cmonitor_unix_listen(const char *path, int backlog, int mode) {
  struct sockaddr_un address;
  size_t length = strlen(path);
  if (length == 0 || length >= sizeof(address.sun_path)) { errno = ENAMETOOLONG; return -1; }
  memset(&address, 0, sizeof(address));
  address.sun_family = AF_UNIX;
  memcpy(address.sun_path, path, length);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  struct stat st;
  if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) unlink(path);
  // The file gets `mode` from the start: no window in which another user could connect.
  mode_t old = umask((mode_t)(~mode & 0777));
  int rc = bind(fd, (struct sockaddr *)&address, sizeof(address));
  int saved = errno;
  umask(old);
  if (rc < 0 || listen(fd, backlog) < 0) {
    if (rc == 0) { saved = errno; unlink(path); }
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

int cmonitor_accept(int listener) {
  int fd;
  do { fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK); } while (fd < 0 && errno == EINTR);
  return fd;
}

ssize_t cmonitor_send(int fd, const void *data, size_t len) {
  ssize_t n;
  do { n = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT); } while (n < 0 && errno == EINTR);
  return n;
}

int64_t cmonitor_monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void cmonitor_realtime(int64_t *seconds, int32_t *nanoseconds) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  *seconds = (int64_t)ts.tv_sec;
  *nanoseconds = (int32_t)ts.tv_nsec;
}

extern char **environ;
char **cmonitor_environ(void) { return environ; }

int64_t cmonitor_file_size(int fd) {
  struct stat st;
  if (fstat(fd, &st) < 0) return -1;
  return (int64_t)st.st_size;
}

int cmonitor_exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}
