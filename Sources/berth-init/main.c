// berth-init: the minimal init behind `berth run --init` (Docker's docker-init / tini role).
//
// The engine bind-mounts this file into the container and makes it PID 1:
//
//     berth-init [-s] [-g] [--] PROGRAM [ARGS...]
//
// It runs PROGRAM as its only child, forwards every signal it receives to that child, reaps
// every zombie (orphans are reparented to PID 1), and exits with the child's status: its exit
// code, or 128+N when signal N killed it. If PROGRAM cannot be executed the child prints
// "berth-init: exec PROGRAM: <reason>" and exits 127 (not found) or 126 (anything else).
//
// Why C without a C library. The binary runs inside arbitrary images (glibc, musl or no libc at
// all), so it must be fully static. Linked statically against glibc, even a program this size
// is about 680 KB (stdio, locale and dlopen support come along) and glibc warns about static
// NSS use; musl is not installed here. Everything this program needs is a dozen system calls,
// so it makes them directly (x86_64 and aarch64) and brings its own _start, execvp and error
// strings: the result is a few KB with no dynamic section, no libc state to worry about after
// fork, and nothing that can fail at load time. Embedded Swift would still need a C library
// for its runtime hooks (malloc, memset, posix_memalign), which puts us back at glibc's size.
//
// Build notes (see Package.swift): compiled -ffreestanding; linked -nostdlib -static through
// swiftc, where `-enable-experimental-feature Embedded` keeps the driver from adding the Swift
// runtime (swiftrt.o, -lswiftCore) to a target that has no Swift in it.
//
// Behaviour, decided like tini's defaults:
// - All signals stay blocked in berth-init and are read from a signalfd (no async handlers).
//   Blocked signals are never discarded by the kernel, even for a PID-namespace init whose
//   dispositions are SIG_DFL, so `kill 1` inside the container reaches the child.
// - Every disposition is reset to SIG_DFL first: an inherited SIG_IGN for SIGCHLD would make
//   the kernel auto-reap children and lose the child's status; the child also inherits them.
// - The child runs in its own process group. When stdin is the controlling terminal (`-t`),
//   the child makes that group the terminal's foreground group (tcsetpgrp, allowed because
//   SIGTTOU is still blocked), so ^C and ^Z go to the child's job directly, like in a shell.
//   Without a terminal the TIOCSPGRP call fails with ENOTTY and is ignored.
// - The child gets an empty signal mask and default dispositions before execve.
// - -s registers berth-init as a child subreaper when it is not PID 1 (tests, or nested use),
//   so orphans are reparented to it and reaped there too.
// - -g sends forwarded signals to the child's whole process group instead of the child alone.

#include <asm/unistd.h>
#include <linux/errno.h>
#include <linux/prctl.h>
#include <linux/signalfd.h>
#include <linux/wait.h>

#if !defined(__x86_64__) && !defined(__aarch64__)
  #error "berth-init supports x86_64 and aarch64"
#endif

// MARK: - System calls

static long sys6(long n, long a, long b, long c, long d, long e, long f) {
#if defined(__x86_64__)
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
#else
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  register long x4 __asm__("x4") = e;
  register long x5 __asm__("x5") = f;
  __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
  return x0;
#endif
}

#define SYS(n, a, b, c, d) sys6(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

// Signal numbers are the same on x86_64 and aarch64 (the generic table).
enum {
  SIG_KILL = 9,
  SIG_CHLD = 17,
  SIG_STOP = 19,
  NSIG_KERNEL = 64,
  SIG_BLOCK_ = 0,
  SIG_SETMASK_ = 2,
  TIOCSPGRP_ = 0x5410,  // asm-generic/ioctls.h, shared by both architectures
};

typedef unsigned long kernel_sigset;  // 64 signals: sigsetsize is 8 on both architectures

// The kernel's struct sigaction (with sa_restorer, which both architectures define).
struct kernel_sigaction {
  void *handler;  // NULL = SIG_DFL
  unsigned long flags;
  void *restorer;
  kernel_sigset mask;
};

static long sys_write(int fd, const void *buf, unsigned long n) { return SYS(__NR_write, fd, buf, n, 0); }
static long sys_read(int fd, void *buf, unsigned long n) { return SYS(__NR_read, fd, buf, n, 0); }
static long sys_getpid(void) { return SYS(__NR_getpid, 0, 0, 0, 0); }
static long sys_kill(long pid, int sig) { return SYS(__NR_kill, pid, sig, 0, 0); }
static long sys_setpgid(long pid, long pgid) { return SYS(__NR_setpgid, pid, pgid, 0, 0); }
static long sys_execve(const char *path, char *const argv[], char *const envp[]) {
  return SYS(__NR_execve, path, argv, envp, 0);
}
static long sys_sigmask(int how, const kernel_sigset *set) {
  return SYS(__NR_rt_sigprocmask, how, set, 0, sizeof(kernel_sigset));
}
static long sys_wait4(long pid, int *status, int options) { return SYS(__NR_wait4, pid, status, options, 0); }
// fork() as clone(SIGCHLD): aarch64 has no fork system call.
static long sys_fork(void) { return SYS(__NR_clone, SIG_CHLD, 0, 0, 0); }

__attribute__((noreturn)) static void sys_exit(int code) {
  for (;;) SYS(__NR_exit_group, code, 0, 0, 0);
}

// MARK: - Small string helpers (no libc)

static unsigned long str_len(const char *s) {
  unsigned long n = 0;
  while (s[n]) n++;
  return n;
}

static int str_eq(const char *a, const char *b) {
  while (*a && *a == *b) a++, b++;
  return *a == *b;
}

/// Writes the NULL-terminated list of strings to stderr in one write (one line, not interleaved
/// with the child's output); silently truncated past 1 KB.
static void say(const char *const parts[]) {
  char buf[1024];
  unsigned long n = 0;
  for (int i = 0; parts[i]; i++)
    for (const char *p = parts[i]; *p && n < sizeof buf; p++) buf[n++] = *p;
  sys_write(2, buf, n);
}

#define SAY(...) say((const char *const[]){__VA_ARGS__, 0})

static const char *error_text(long err) {
  switch (err) {
  case ENOENT: return "No such file or directory";
  case EACCES: return "Permission denied";
  case ENOEXEC: return "Exec format error";
  case ENOTDIR: return "Not a directory";
  case EISDIR: return "Is a directory";
  case ELOOP: return "Too many levels of symbolic links";
  case ENAMETOOLONG: return "File name too long";
  case E2BIG: return "Argument list too long";
  case ENOMEM: return "Cannot allocate memory";
  case ETXTBSY: return "Text file busy";
  case EPERM: return "Operation not permitted";
  case EIO: return "Input/output error";
  case EINVAL: return "Invalid argument";
  case EAGAIN: return "Resource temporarily unavailable";
  case ELIBBAD: return "Accessing a corrupted shared library";
  case EMFILE: return "Too many open files";
  case ENFILE: return "Too many open files in system";
  default: return "unknown error";
  }
}

// MARK: - execvp

static const char *env_get(char *const envp[], const char *name) {
  unsigned long n = str_len(name);
  for (; *envp; envp++) {
    const char *e = *envp;
    unsigned long i = 0;
    while (i < n && e[i] == name[i]) i++;
    if (i == n && e[i] == '=') return e + n + 1;
  }
  return 0;
}

/// execve, and for a file the kernel cannot execute (ENOEXEC: a script without "#!"), the same
/// file through /bin/sh, as execvp does. Returns the negative errno of the execve of `path`.
static long exec_file(const char *path, int argc, char *const argv[], char *const envp[]) {
  long r = sys_execve(path, argv, envp);
  if (r != -ENOEXEC) return r;
  char *shell_argv[argc + 2];
  shell_argv[0] = "sh";
  shell_argv[1] = (char *)path;
  for (int i = 1; i <= argc; i++) shell_argv[i + 1] = argv[i];  // argv[argc] is the NULL
  sys_execve("/bin/sh", shell_argv, envp);
  return r;
}

/// execvp: a name with a '/' is executed as is; otherwise each PATH directory is tried in turn
/// (an empty entry means the current directory). Returns the negative errno on failure: EACCES
/// if some candidate existed but could not be executed, else the last "not found" kind of error.
static long exec_path(int argc, char *const argv[], char *const envp[]) {
  const char *file = argv[0];
  if (!*file) return -ENOENT;
  for (const char *p = file; *p; p++)
    if (*p == '/') return exec_file(file, argc, argv, envp);

  const char *path = env_get(envp, "PATH");
  if (!path) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  unsigned long flen = str_len(file);
  long result = -ENOENT;
  int denied = 0;
  char candidate[4096];
  for (const char *dir = path;; dir++) {
    const char *end = dir;
    while (*end && *end != ':') end++;
    unsigned long dlen = (unsigned long)(end - dir);
    if (dlen + 1 + flen + 1 > sizeof candidate) {
      result = -ENAMETOOLONG;
    } else {
      unsigned long n = 0;
      for (const char *c = dir; c < end; c++) candidate[n++] = *c;
      if (dlen) candidate[n++] = '/';
      for (unsigned long i = 0; i <= flen; i++) candidate[n++] = file[i];
      long r = exec_file(candidate, argc, argv, envp);
      switch (-r) {
      case EACCES: denied = 1; break;
      case ENOENT: case ENOTDIR: case ESTALE: case ENODEV: case ETIMEDOUT: break;
      default: return r;  // found but failed (ENOEXEC without /bin/sh, E2BIG, ...): stop here
      }
    }
    if (!*end) break;
    dir = end;
  }
  return denied ? -EACCES : result;
}

// MARK: - Child

__attribute__((noreturn)) static void child(int argc, char *const argv[], char *const envp[]) {
  // Its own process group, and the terminal's foreground group when stdin is the controlling
  // terminal. TIOCSPGRP from a background group would raise SIGTTOU, but it is still blocked,
  // which the kernel treats as ignored: the call goes through. ENOTTY (no terminal, or not our
  // controlling one) and ENXIO are expected and harmless.
  sys_setpgid(0, 0);
  int pgrp = (int)sys_getpid();
  long r = SYS(__NR_ioctl, 0, TIOCSPGRP_, &pgrp, 0);
  if (r < 0 && r != -ENOTTY && r != -ENXIO && r != -EINVAL)
    SAY("berth-init: warning: cannot make the child the terminal's foreground group: ", error_text(-r), "\n");

  // Dispositions are already SIG_DFL (reset in main before the fork); now the mask.
  kernel_sigset none = 0;
  sys_sigmask(SIG_SETMASK_, &none);

  long err = exec_path(argc, argv, envp);
  SAY("berth-init: exec ", argv[0], ": ", error_text(-err), "\n");
  sys_exit(err == -ENOENT ? 127 : 126);
}

// MARK: - Init

static void usage(int fd) {
  static const char text[] =
    "usage: berth-init [-s] [-g] [--] PROGRAM [ARGS...]\n"
    "Runs PROGRAM as a child, forwards signals to it, reaps zombies, and exits with its status.\n"
    "  -s  register as a child subreaper when not PID 1 (reap orphans outside a PID namespace)\n"
    "  -g  forward signals to the child's process group, not just the child\n"
    "  -h  show this help\n";
  sys_write(fd, text, sizeof text - 1);
}

static int exit_code(int status) {
  int sig = status & 0x7f;
  if (sig == 0) return (status >> 8) & 0xff;  // exited
  return 128 + sig;                            // killed (stopped children are never reported)
}

__attribute__((noreturn, used)) void berth_init_main(long *sp) {
  int argc = (int)sp[0];
  char **argv = (char **)(sp + 1);
  char **envp = argv + argc + 1;

  int subreaper = 0, group = 0, i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-' || a[1] == 0) break;
    if (str_eq(a, "--")) {
      i++;
      break;
    }
    if (str_eq(a, "--help")) {
      usage(1);
      sys_exit(0);
    }
    for (const char *f = a + 1; *f; f++) {
      switch (*f) {
      case 's': subreaper = 1; break;
      case 'g': group = 1; break;
      case 'h': usage(1); sys_exit(0);
      default: {
        char flag[2] = {*f, 0};
        SAY("berth-init: unknown option -", flag, "\n");
        usage(2);
        sys_exit(2);
      }
      }
    }
  }
  if (i >= argc) {
    SAY("berth-init: no program to run\n");
    usage(2);
    sys_exit(2);
  }

  // Block everything before anything can arrive, then reset every disposition to default.
  kernel_sigset all = ~0UL;
  sys_sigmask(SIG_SETMASK_, &all);
  struct kernel_sigaction dfl = {0, 0, 0, 0};
  for (int sig = 1; sig <= NSIG_KERNEL; sig++)
    if (sig != SIG_KILL && sig != SIG_STOP) SYS(__NR_rt_sigaction, sig, &dfl, 0, sizeof(kernel_sigset));

  long fd = SYS(__NR_signalfd4, -1, &all, sizeof(kernel_sigset), SFD_CLOEXEC);
  if (fd < 0) {
    SAY("berth-init: signalfd: ", error_text(-fd), "\n");
    sys_exit(1);
  }

  if (sys_getpid() != 1) {
    if (subreaper) {
      long r = SYS(__NR_prctl, PR_SET_CHILD_SUBREAPER, 1, 0, 0);
      if (r < 0) SAY("berth-init: warning: cannot become a child subreaper: ", error_text(-r), "\n");
    } else {
      SAY("berth-init: warning: not PID 1 and not a subreaper (-s): orphans will not be reaped here\n");
    }
  }

  long pid = sys_fork();
  if (pid < 0) {
    SAY("berth-init: fork: ", error_text(-pid), "\n");
    sys_exit(1);
  }
  if (pid == 0) child(argc - i, argv + i, envp);
  // Also from this side, so a forwarded signal never misses the group (EACCES after the
  // child's exec and ESRCH after its exit are fine).
  sys_setpgid(pid, pid);

  for (;;) {
    struct signalfd_siginfo si;
    long n = sys_read((int)fd, &si, sizeof si);
    if (n == -EINTR || n == -EAGAIN) continue;
    if (n != (long)sizeof si) {
      SAY("berth-init: reading the signalfd: ", error_text(n < 0 ? -n : EIO), "\n");
      sys_exit(1);
    }
    if (si.ssi_signo != SIG_CHLD) {
      sys_kill(group ? -pid : pid, (int)si.ssi_signo);  // ESRCH: already gone, SIGCHLD follows
      continue;
    }
    // Reap everything that has exited: the child and any orphan. SIGCHLD does not queue, so
    // one signal may stand for many exits.
    int done = 0, code = 0;
    for (;;) {
      int status = 0;
      long reaped = sys_wait4(-1, &status, WNOHANG | __WALL);
      if (reaped <= 0) break;  // 0: others still running; -ECHILD: none left
      if (reaped == pid) {
        done = 1;
        code = exit_code(status);
      }
    }
    if (done) sys_exit(code);
  }
}

// The entry point: the kernel leaves argc, argv[], NULL, envp[], NULL on the stack.
#if defined(__x86_64__)
__asm__(".text\n"
        ".global _start\n"
        ".type _start,@function\n"
        "_start:\n"
        "  xor %ebp, %ebp\n"
        "  mov %rsp, %rdi\n"
        "  and $-16, %rsp\n"
        "  call berth_init_main\n"
        "  hlt\n");
#else
__asm__(".text\n"
        ".global _start\n"
        ".type _start,%function\n"
        "_start:\n"
        "  mov x29, #0\n"
        "  mov x30, #0\n"
        "  mov x0, sp\n"
        "  and x1, x0, #-16\n"
        "  mov sp, x1\n"
        "  bl berth_init_main\n"
        "  brk #0\n");
#endif

// The compiler may emit calls to these even in freestanding code (struct copies and zeroing).
void *memset(void *dst, int c, unsigned long n) {
  volatile unsigned char *d = dst;
  while (n--) *d++ = (unsigned char)c;
  return dst;
}

void *memcpy(void *dst, const void *src, unsigned long n) {
  volatile unsigned char *d = dst;
  const unsigned char *s = src;
  while (n--) *d++ = *s++;
  return dst;
}
