// Thin wrappers over Linux syscalls and macros; see CLinux.h for the contract of each.
#define _GNU_SOURCE 1
#include "CLinux.h"

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <linux/capability.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/openat2.h>
#include <linux/bpf.h>

#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif

int berth_errno(void) { return errno; }
void berth_set_errno(int value) { errno = value; }

// ---- process creation -------------------------------------------------------------------

struct berth_clone_args {
  uint64_t flags;
  uint64_t pidfd;
  uint64_t child_tid;
  uint64_t parent_tid;
  uint64_t exit_signal;
  uint64_t stack;
  uint64_t stack_size;
  uint64_t tls;
  uint64_t set_tid;
  uint64_t set_tid_size;
  uint64_t cgroup;
};

pid_t berth_clone3(uint64_t flags, int cgroup_fd, int *pidfd_out) {
  struct berth_clone_args args;
  memset(&args, 0, sizeof(args));
  int pidfd = -1;
  args.flags = flags;
  args.exit_signal = SIGCHLD;
  if (flags & BERTH_CLONE_PIDFD) args.pidfd = (uint64_t)(uintptr_t)&pidfd;
  if (cgroup_fd >= 0) {
    args.flags |= BERTH_CLONE_INTO_CGROUP;
    args.cgroup = (uint64_t)cgroup_fd;
  }
  long rc = syscall(SYS_clone3, &args, sizeof(args));
  if (rc > 0 && pidfd_out) *pidfd_out = pidfd;
  return (pid_t)rc;
}

pid_t berth_fork(void) {
  return (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
}

// ---- namespaces, mounts, root -----------------------------------------------------------

int berth_unshare(int flags) { return unshare(flags); }
int berth_setns(int fd, int nstype) { return setns(fd, nstype); }
int berth_pivot_root(const char *new_root, const char *put_old) {
  return (int)syscall(SYS_pivot_root, new_root, put_old);
}
int berth_mount(const char *source, const char *target, const char *fstype,
                unsigned long flags, const char *data) {
  return mount(source, target, fstype, flags, data);
}
int berth_umount2(const char *target, int flags) { return umount2(target, flags); }
int berth_mount_setattr(int dirfd, const char *path, unsigned int flags,
                        berth_mount_attr *attr) {
  return (int)syscall(SYS_mount_setattr, dirfd, path, flags, attr, sizeof(*attr));
}
int berth_open_tree(int dirfd, const char *path, unsigned int flags) {
  return (int)syscall(SYS_open_tree, dirfd, path, flags);
}
int berth_move_mount(int from_dirfd, const char *from_path, int to_dirfd,
                     const char *to_path, unsigned int flags) {
  return (int)syscall(SYS_move_mount, from_dirfd, from_path, to_dirfd, to_path, flags);
}
int berth_fsopen(const char *fsname, unsigned int flags) {
  return (int)syscall(SYS_fsopen, fsname, flags);
}
int berth_fsconfig(int fd, unsigned int cmd, const char *key, const void *value, int aux) {
  return (int)syscall(SYS_fsconfig, fd, cmd, key, value, aux);
}
int berth_fsmount(int fd, unsigned int flags, unsigned int attr_flags) {
  return (int)syscall(SYS_fsmount, fd, flags, attr_flags);
}
int berth_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
  struct open_how how;
  memset(&how, 0, sizeof(how));
  how.flags = flags;
  how.mode = mode;
  how.resolve = resolve;
  return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

// ---- file descriptors -------------------------------------------------------------------

int berth_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }
int berth_close_range(unsigned int first, unsigned int last, unsigned int flags) {
  return (int)syscall(SYS_close_range, first, last, flags);
}
int berth_memfd_create(const char *name, unsigned int flags) {
  return (int)syscall(SYS_memfd_create, name, flags);
}
int berth_fcntl_int(int fd, int cmd, int arg) { return fcntl(fd, cmd, arg); }

// ---- files ------------------------------------------------------------------------------

int berth_is_mount_root(const char *path) {
  struct statx info;
  if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, 0, &info) != 0) return -1;
  if (!(info.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)) return -1;
  return (info.stx_attributes & STATX_ATTR_MOUNT_ROOT) ? 1 : 0;
}

int berth_statfs_type(const char *path, uint64_t *type) {
  struct statfs info;
  if (statfs(path, &info) != 0) return -1;
  *type = (uint64_t)info.f_type;
  return 0;
}
int berth_fstatfs_type(int fd, uint64_t *type) {
  struct statfs info;
  if (fstatfs(fd, &info) != 0) return -1;
  *type = (uint64_t)info.f_type;
  return 0;
}
ssize_t berth_copy_file_range(int fd_in, int fd_out, size_t length) {
  // The raw syscall: glibc before 2.30 emulated it in user space where the kernel lacked it.
  return syscall(SYS_copy_file_range, fd_in, NULL, fd_out, NULL, length, 0);
}
ssize_t berth_listxattr(int fd, const char *path, int follow, char *list, size_t size) {
  if (fd >= 0) return flistxattr(fd, list, size);
  return follow ? listxattr(path, list, size) : llistxattr(path, list, size);
}
ssize_t berth_getxattr(int fd, const char *path, int follow, const char *name, void *value, size_t size) {
  if (fd >= 0) return fgetxattr(fd, name, value, size);
  return follow ? getxattr(path, name, value, size) : lgetxattr(path, name, value, size);
}
int berth_setxattr(int fd, const char *path, int follow, const char *name, const void *value, size_t size) {
  if (fd >= 0) return fsetxattr(fd, name, value, size, 0);
  return follow ? setxattr(path, name, value, size, 0) : lsetxattr(path, name, value, size, 0);
}
int berth_execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags) {
  return (int)syscall(SYS_execveat, dirfd, path, argv, envp, flags);
}
int berth_pidfd_open(pid_t pid, unsigned int flags) {
  return (int)syscall(SYS_pidfd_open, pid, flags);
}
int berth_pidfd_send_signal(int pidfd, int sig, unsigned int flags) {
  return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, flags);
}
int berth_pidfd_getfd(int pidfd, int targetfd, unsigned int flags) {
  return (int)syscall(SYS_pidfd_getfd, pidfd, targetfd, flags);
}

#define BERTH_MAX_FDS 16

ssize_t berth_send_fds(int sock, const int *fds, int count, const void *data, size_t len) {
  if (count < 0 || count > BERTH_MAX_FDS) { errno = EINVAL; return -1; }
  char dummy = 0;
  struct iovec iov;
  iov.iov_base = (len > 0 && data) ? (void *)data : &dummy;
  iov.iov_len = (len > 0 && data) ? len : 1;
  union {
    char buf[CMSG_SPACE(sizeof(int) * BERTH_MAX_FDS)];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof(control));
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (count > 0) {
    msg.msg_control = control.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)count);
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)count);
    memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * (size_t)count);
  }
  ssize_t rc;
  do { rc = sendmsg(sock, &msg, MSG_NOSIGNAL); } while (rc < 0 && errno == EINTR);
  return rc;
}

ssize_t berth_recv_fds(int sock, int *fds, int max, int *count, void *data, size_t len) {
  if (max < 0 || max > BERTH_MAX_FDS) { errno = EINVAL; return -1; }
  char dummy;
  struct iovec iov;
  iov.iov_base = (len > 0 && data) ? data : &dummy;
  iov.iov_len = (len > 0 && data) ? len : 1;
  union {
    char buf[CMSG_SPACE(sizeof(int) * BERTH_MAX_FDS)];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof(control));
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof(control.buf);
  ssize_t rc;
  do { rc = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); } while (rc < 0 && errno == EINTR);
  if (count) *count = 0;
  if (rc < 0) return rc;
  for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
    if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) continue;
    int n = (int)((cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    int *received = (int *)CMSG_DATA(cmsg);
    for (int i = 0; i < n; i++) {
      if (count && *count < max) fds[(*count)++] = received[i];
      else close(received[i]);
    }
  }
  return rc;
}

// ---- credentials, capabilities, process attributes --------------------------------------

int berth_capget_v3(int pid, uint32_t effective[2], uint32_t permitted[2], uint32_t inheritable[2]) {
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, pid};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof(data));
  int rc = (int)syscall(SYS_capget, &header, data);
  if (rc == 0) {
    for (int i = 0; i < 2; i++) {
      effective[i] = data[i].effective;
      permitted[i] = data[i].permitted;
      inheritable[i] = data[i].inheritable;
    }
  }
  return rc;
}

int berth_capset_v3(const uint32_t effective[2], const uint32_t permitted[2], const uint32_t inheritable[2]) {
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  for (int i = 0; i < 2; i++) {
    data[i].effective = effective[i];
    data[i].permitted = permitted[i];
    data[i].inheritable = inheritable[i];
  }
  return (int)syscall(SYS_capset, &header, data);
}

int berth_prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5) {
  return prctl(option, a2, a3, a4, a5);
}
int berth_setresuid(uid_t r, uid_t e, uid_t s) { return (int)syscall(SYS_setresuid, r, e, s); }
int berth_setresgid(gid_t r, gid_t e, gid_t s) { return (int)syscall(SYS_setresgid, r, e, s); }
int berth_setgroups(size_t count, const gid_t *groups) {
  return (int)syscall(SYS_setgroups, count, groups);
}
int berth_sethostname(const char *name, size_t len) { return sethostname(name, len); }
int berth_setdomainname(const char *name, size_t len) { return setdomainname(name, len); }
int berth_prlimit(pid_t pid, int resource, uint64_t soft, uint64_t hard) {
  struct rlimit64 limit = {soft, hard};
  return prlimit64(pid, (enum __rlimit_resource)resource, &limit, NULL);
}
int berth_personality(unsigned long persona) { return personality(persona); }
long berth_join_session_keyring(const char *name) {
  return syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, name, 0, 0, 0);
}

struct berth_sched_attr {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
  uint32_t sched_util_min;
  uint32_t sched_util_max;
};

int berth_sched_setattr(uint32_t policy, uint64_t flags, int32_t nice, uint32_t priority,
                        uint64_t runtime, uint64_t deadline, uint64_t period) {
  struct berth_sched_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.size = sizeof(attr);
  attr.sched_policy = policy;
  attr.sched_flags = flags;
  attr.sched_nice = nice;
  attr.sched_priority = priority;
  attr.sched_runtime = runtime;
  attr.sched_deadline = deadline;
  attr.sched_period = period;
  return (int)syscall(SYS_sched_setattr, 0, &attr, 0);
}

int berth_ioprio_set_self(int io_class, int level) {
  return (int)syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, (io_class << 13) | level);
}

// ---- terminals --------------------------------------------------------------------------

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

int berth_open_pty(const char *ptmx_path, int *peer) {
  int master = open(ptmx_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return -1;
  int unlock = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0) { int e = errno; close(master); errno = e; return -1; }
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) { int e = errno; close(master); errno = e; return -1; }
  *peer = slave;
  return master;
}

int berth_set_winsize(int fd, unsigned short rows, unsigned short cols) {
  struct winsize ws;
  memset(&ws, 0, sizeof(ws));
  ws.ws_row = rows;
  ws.ws_col = cols;
  return ioctl(fd, TIOCSWINSZ, &ws);
}

int berth_get_winsize(int fd, unsigned short *rows, unsigned short *cols) {
  struct winsize ws;
  if (ioctl(fd, TIOCGWINSZ, &ws) < 0) return -1;
  *rows = ws.ws_row;
  *cols = ws.ws_col;
  return 0;
}

int berth_set_controlling_tty(int fd) { return ioctl(fd, TIOCSCTTY, 0); }

int berth_tty_make_raw(int fd, struct termios *saved) {
  if (tcgetattr(fd, saved) < 0) return -1;
  struct termios raw = *saved;
  // Fully raw: the container's own pty already does the output processing ("\n" → "\r\n").
  cfmakeraw(&raw);
  return tcsetattr(fd, TCSANOW, &raw);
}

int berth_tty_restore(int fd, const struct termios *saved) {
  return tcsetattr(fd, TCSANOW, saved);
}

// ---- signals ----------------------------------------------------------------------------

int berth_sigmask_block_all(sigset_t *old) {
  sigset_t all;
  sigfillset(&all);
  return sigprocmask(SIG_SETMASK, &all, old);
}

int berth_sigmask_set(const sigset_t *set) { return sigprocmask(SIG_SETMASK, set, NULL); }

int berth_signalfd_all(void) {
  sigset_t all;
  sigfillset(&all);
  return signalfd(-1, &all, SFD_CLOEXEC);
}

int berth_signalfd_read(int fd) {
  struct signalfd_siginfo info;
  ssize_t n = read(fd, &info, sizeof(info));
  if (n != (ssize_t)sizeof(info)) return -1;
  return (int)info.ssi_signo;
}

void berth_reset_signal_handlers(void) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    sigaction(sig, &dfl, NULL);
  }
}

int berth_sig_max(void) { return NSIG - 1; }

// ---- spawning ---------------------------------------------------------------------------

struct berth_spawn_request {
  const char *path;
  char *const *argv;
  char *const *envp;
  const int *fd_map;
  int fd_map_count;
  int max_target;
  const char *cwd;
  int new_session;
  int err;  // written by the child, which shares the parent's memory (CLONE_VM)
};

// The child: async-signal-safe calls only. It runs on its own stack while the parent waits
// (CLONE_VFORK) until it has exec'd or exited.
static int berth_spawn_child(void *argument) {
  struct berth_spawn_request *request = argument;
  int err = 0;
  // Move every source above all targets first, so that no dup2 clobbers a later source.
  int moved[64];
  int n = request->fd_map_count < 64 ? request->fd_map_count : 64;
  for (int i = 0; i < n && !err; i++) {
    moved[i] = fcntl(request->fd_map[2 * i], F_DUPFD_CLOEXEC, request->max_target + 1);
    if (moved[i] < 0) err = errno;
  }
  for (int i = 0; i < n && !err; i++) {
    if (dup2(moved[i], request->fd_map[2 * i + 1]) < 0) err = errno;
  }
  if (!err) {
    // Everything else above stderr is closed at exec; the targets stay open.
    syscall(SYS_close_range, 3, ~0U, BERTH_CLOSE_RANGE_CLOEXEC);
    for (int i = 0; i < n; i++)
      if (request->fd_map[2 * i + 1] > 2) fcntl(request->fd_map[2 * i + 1], F_SETFD, 0);
  }
  if (!err && request->new_session && setsid() < 0) err = errno;
  if (!err && request->cwd && chdir(request->cwd) < 0) err = errno;
  if (!err) {
    // No CLONE_SIGHAND: these are the child's own dispositions, not the parent's.
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
      if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(request->path, request->argv, request->envp);
    err = errno;
  }
  request->err = err;
  _exit(127);
}

// A vfork-style clone (as glibc's posix_spawn): the parent's page tables are not copied,
// which a plain fork of the ~100 MB engine spends milliseconds on.
pid_t berth_spawn(const char *path, char *const argv[], char *const envp[],
                  const int *fd_map, int fd_map_count, const char *cwd, int new_session) {
  struct berth_spawn_request request = {
    .path = path, .argv = argv, .envp = envp, .fd_map = fd_map, .fd_map_count = fd_map_count,
    .max_target = 2, .cwd = cwd, .new_session = new_session, .err = 0,
  };
  for (int i = 0; i < fd_map_count; i++)
    if (fd_map[2 * i + 1] > request.max_target) request.max_target = fd_map[2 * i + 1];

  const size_t stack_size = 256 * 1024;
  char *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return -1;

  sigset_t old;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);  // no handler may run in the child before exec
  pid_t pid = clone(berth_spawn_child, stack + stack_size, CLONE_VM | CLONE_VFORK | SIGCHLD, &request);
  int saved_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  munmap(stack, stack_size);
  if (pid < 0) {
    errno = saved_errno;
    return -1;
  }
  if (request.err) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    errno = request.err;
    return -1;
  }
  return pid;
}

// ---- misc -------------------------------------------------------------------------------

unsigned long berth_major(dev_t dev) { return major(dev); }
unsigned long berth_minor(dev_t dev) { return minor(dev); }
dev_t berth_makedev(unsigned long maj, unsigned long min) { return makedev(maj, min); }
long berth_syscall6(long number, long a1, long a2, long a3, long a4, long a5, long a6) {
  return syscall(number, a1, a2, a3, a4, a5, a6);
}
int berth_bpf(int cmd, void *attr, unsigned int size) {
  return (int)syscall(SYS_bpf, cmd, attr, size);
}

// ---- the exec stub ----------------------------------------------------------------------

#include "exec_stub.inc"

const unsigned char *berth_exec_stub(size_t *size) {
#if defined(__x86_64__)
  *size = sizeof(berth_exec_stub_x86_64);
  return berth_exec_stub_x86_64;
#elif defined(__aarch64__)
  *size = sizeof(berth_exec_stub_aarch64);
  return berth_exec_stub_aarch64;
#else
  *size = 0;
  return NULL;
#endif
}
