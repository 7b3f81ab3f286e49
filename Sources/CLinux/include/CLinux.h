// CLinux: the Linux interfaces Swift's Glibc module does not expose.
//
// Raw syscalls without glibc wrappers, constants that are macros Swift cannot import,
// variadic calls (ioctl, prctl, fcntl) given fixed signatures, SCM_RIGHTS, and the one
// fork+exec helper that async code uses. Every function returns -1 and sets errno on
// failure, like the syscalls they wrap.
#ifndef BERTH_CLINUX_H
#define BERTH_CLINUX_H

// Only headers whose types appear in the signatures below: anything more, compiled with
// other feature macros than Swift's Glibc module, breaks the module build.
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <signal.h>
#include <termios.h>

// ---- constants glibc exposes only under _GNU_SOURCE (Swift's Glibc module lacks them) ----
#define BERTH_O_PATH 010000000
#define BERTH_AT_EMPTY_PATH 0x1000
#define BERTH_PR_SET_DUMPABLE 4
#define BERTH_PR_SET_KEEPCAPS 8
#define BERTH_PR_CAPBSET_DROP 24
#define BERTH_PR_SET_CHILD_SUBREAPER 36
#define BERTH_PR_SET_NO_NEW_PRIVS 38
#define BERTH_PR_CAP_AMBIENT 47
#define BERTH_PR_CAP_AMBIENT_RAISE 2

// ---- errno ------------------------------------------------------------------------------
int berth_errno(void);
void berth_set_errno(int value);

// ---- process creation -------------------------------------------------------------------
/// clone3(2) with fork semantics (no CLONE_VM, no new stack): returns the child's pid in the
/// parent, 0 in the child. `cgroup_fd` >= 0 adds CLONE_INTO_CGROUP. `pidfd_out` (may be NULL)
/// receives a pidfd when CLONE_PIDFD is in `flags`.
pid_t berth_clone3(uint64_t flags, int cgroup_fd, int *pidfd_out);
/// fork(2) through the raw syscall, so that no atfork handlers run: the runtime is single
/// threaded and needs none.
pid_t berth_fork(void);

// ---- namespaces, mounts, root -----------------------------------------------------------
int berth_unshare(int flags);
int berth_setns(int fd, int nstype);
int berth_pivot_root(const char *new_root, const char *put_old);
int berth_mount(const char *source, const char *target, const char *fstype,
                unsigned long flags, const char *data);
int berth_umount2(const char *target, int flags);

/// struct mount_attr for mount_setattr(2), laid out as the kernel's.
typedef struct berth_mount_attr {
  uint64_t attr_set;
  uint64_t attr_clr;
  uint64_t propagation;
  uint64_t userns_fd;
} berth_mount_attr;
int berth_mount_setattr(int dirfd, const char *path, unsigned int flags,
                        berth_mount_attr *attr);
int berth_open_tree(int dirfd, const char *path, unsigned int flags);
int berth_move_mount(int from_dirfd, const char *from_path, int to_dirfd,
                     const char *to_path, unsigned int flags);
int berth_fsopen(const char *fsname, unsigned int flags);
int berth_fsconfig(int fd, unsigned int cmd, const char *key, const void *value, int aux);
int berth_fsmount(int fd, unsigned int flags, unsigned int attr_flags);

/// openat2(2) with struct open_how: `resolve` takes RESOLVE_* flags.
int berth_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve);

#define BERTH_RESOLVE_NO_XDEV 0x01
#define BERTH_RESOLVE_NO_MAGICLINKS 0x02
#define BERTH_RESOLVE_NO_SYMLINKS 0x04
#define BERTH_RESOLVE_BENEATH 0x08
#define BERTH_RESOLVE_IN_ROOT 0x10

#define BERTH_MOUNT_ATTR_RDONLY 0x00000001ULL
#define BERTH_MOUNT_ATTR_NOSUID 0x00000002ULL
#define BERTH_MOUNT_ATTR_NODEV 0x00000004ULL
#define BERTH_MOUNT_ATTR_NOEXEC 0x00000008ULL
#define BERTH_MOUNT_ATTR__ATIME 0x00000070ULL
#define BERTH_MOUNT_ATTR_RELATIME 0x00000000ULL
#define BERTH_MOUNT_ATTR_NOATIME 0x00000010ULL
#define BERTH_MOUNT_ATTR_STRICTATIME 0x00000020ULL
#define BERTH_MOUNT_ATTR_NODIRATIME 0x00000080ULL
#define BERTH_MOUNT_ATTR_IDMAP 0x00100000ULL
#define BERTH_MOUNT_ATTR_NOSYMFOLLOW 0x00200000ULL
#define BERTH_AT_RECURSIVE 0x8000
#define BERTH_OPEN_TREE_CLONE 1
#define BERTH_OPEN_TREE_CLOEXEC O_CLOEXEC
#define BERTH_MOVE_MOUNT_F_EMPTY_PATH 0x00000004

// Mount flags Swift sees as macros of the wrong type or not at all.
#define BERTH_MS_RDONLY 1UL
#define BERTH_MS_NOSUID 2UL
#define BERTH_MS_NODEV 4UL
#define BERTH_MS_NOEXEC 8UL
#define BERTH_MS_SYNCHRONOUS 16UL
#define BERTH_MS_REMOUNT 32UL
#define BERTH_MS_MANDLOCK 64UL
#define BERTH_MS_DIRSYNC 128UL
#define BERTH_MS_NOSYMFOLLOW 256UL
#define BERTH_MS_NOATIME 1024UL
#define BERTH_MS_NODIRATIME 2048UL
#define BERTH_MS_BIND 4096UL
#define BERTH_MS_MOVE 8192UL
#define BERTH_MS_REC 16384UL
#define BERTH_MS_SILENT 32768UL
#define BERTH_MS_UNBINDABLE (1UL << 17)
#define BERTH_MS_PRIVATE (1UL << 18)
#define BERTH_MS_SLAVE (1UL << 19)
#define BERTH_MS_SHARED (1UL << 20)
#define BERTH_MS_RELATIME (1UL << 21)
#define BERTH_MS_STRICTATIME (1UL << 24)
#define BERTH_MS_LAZYTIME (1UL << 25)
#define BERTH_MNT_DETACH 2
#define BERTH_UMOUNT_NOFOLLOW 8

// Namespace flags (CLONE_NEWTIME is missing from older headers).
#define BERTH_CLONE_NEWTIME 0x00000080ULL
#define BERTH_CLONE_NEWNS 0x00020000ULL
#define BERTH_CLONE_NEWCGROUP 0x02000000ULL
#define BERTH_CLONE_NEWUTS 0x04000000ULL
#define BERTH_CLONE_NEWIPC 0x08000000ULL
#define BERTH_CLONE_NEWUSER 0x10000000ULL
#define BERTH_CLONE_NEWPID 0x20000000ULL
#define BERTH_CLONE_NEWNET 0x40000000ULL
#define BERTH_CLONE_PIDFD 0x00001000ULL
#define BERTH_CLONE_INTO_CGROUP 0x200000000ULL

// ---- file descriptors -------------------------------------------------------------------
/// pipe2(2): glibc declares it only under _GNU_SOURCE.
int berth_pipe2(int fds[2], int flags);
int berth_close_range(unsigned int first, unsigned int last, unsigned int flags);
#define BERTH_CLOSE_RANGE_CLOEXEC (1U << 2)
int berth_memfd_create(const char *name, unsigned int flags);
#define BERTH_MFD_CLOEXEC 0x0001U
#define BERTH_MFD_ALLOW_SEALING 0x0002U
#define BERTH_MFD_EXEC 0x0010U
int berth_fcntl_int(int fd, int cmd, int arg);
int berth_execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags);
int berth_pidfd_open(pid_t pid, unsigned int flags);
int berth_pidfd_send_signal(int pidfd, int sig, unsigned int flags);
int berth_pidfd_getfd(int pidfd, int targetfd, unsigned int flags);

/// Sends `count` descriptors with one byte of data over a unix socket (SCM_RIGHTS).
ssize_t berth_send_fds(int sock, const int *fds, int count, const void *data, size_t len);
/// Receives up to `max` descriptors (set close-on-exec) and up to `len` bytes of data.
/// `*count` is set to the number of descriptors received.
ssize_t berth_recv_fds(int sock, int *fds, int max, int *count, void *data, size_t len);

// ---- files: <sys/vfs.h> and <sys/xattr.h>, which Swift's Glibc module lacks ---------------
/// statfs(2) / fstatfs(2): the file system's type (f_type, its magic number) into *type.
int berth_statfs_type(const char *path, uint64_t *type);
/// 1 when `path` is the root of a mount, 0 when not, -1 when the kernel cannot say (statx's
/// STATX_ATTR_MOUNT_ROOT, Linux 5.8) or on error.
int berth_is_mount_root(const char *path);
int berth_fstatfs_type(int fd, uint64_t *type);
/// copy_file_range(2) from and to both files' own offsets.
ssize_t berth_copy_file_range(int fd_in, int fd_out, size_t length);
/// Extended attribute calls on `fd` when it is >= 0, else on `path`, whose last component is
/// followed only when `follow` is non-zero (the l*xattr calls otherwise).
ssize_t berth_listxattr(int fd, const char *path, int follow, char *list, size_t size);
ssize_t berth_getxattr(int fd, const char *path, int follow, const char *name, void *value, size_t size);
int berth_setxattr(int fd, const char *path, int follow, const char *name, const void *value, size_t size);

// ---- credentials, capabilities, process attributes --------------------------------------
int berth_capget_v3(int pid, uint32_t effective[2], uint32_t permitted[2], uint32_t inheritable[2]);
int berth_capset_v3(const uint32_t effective[2], const uint32_t permitted[2], const uint32_t inheritable[2]);
int berth_prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5);
/// setresuid/setresgid/setgroups as raw syscalls: glibc's wrappers signal every thread,
/// which is wrong after clone and pointless in a single-threaded process.
int berth_setresuid(uid_t r, uid_t e, uid_t s);
int berth_setresgid(gid_t r, gid_t e, gid_t s);
int berth_setgroups(size_t count, const gid_t *groups);
int berth_sethostname(const char *name, size_t len);
int berth_setdomainname(const char *name, size_t len);
int berth_prlimit(pid_t pid, int resource, uint64_t soft, uint64_t hard);
int berth_personality(unsigned long persona);
/// keyctl(KEYCTL_JOIN_SESSION_KEYRING, name): a new session keyring named `name`.
long berth_join_session_keyring(const char *name);
/// sched_setattr(2) for the calling process.
int berth_sched_setattr(uint32_t policy, uint64_t flags, int32_t nice, uint32_t priority,
                        uint64_t runtime, uint64_t deadline, uint64_t period);
/// ioprio_set(IOPRIO_WHO_PROCESS, 0, class << 13 | level).
int berth_ioprio_set_self(int io_class, int level);

// ---- terminals --------------------------------------------------------------------------
/// Opens a new pty master through `ptmx_path` and returns it; `*peer` receives the slave,
/// opened through the master (TIOCGPTPEER) so that it comes from the same devpts instance.
int berth_open_pty(const char *ptmx_path, int *peer);
int berth_set_winsize(int fd, unsigned short rows, unsigned short cols);
int berth_get_winsize(int fd, unsigned short *rows, unsigned short *cols);
int berth_set_controlling_tty(int fd);
int berth_tty_make_raw(int fd, struct termios *saved);
int berth_tty_restore(int fd, const struct termios *saved);

// ---- signals ----------------------------------------------------------------------------
int berth_sigmask_block_all(sigset_t *old);
int berth_sigmask_set(const sigset_t *set);
int berth_signalfd_all(void);
/// Reads one signal from a signalfd: its number, or -1 with errno.
int berth_signalfd_read(int fd);
/// Resets every signal disposition to default, as execve would, without exec'ing.
void berth_reset_signal_handlers(void);
int berth_sig_max(void);

// ---- spawning ---------------------------------------------------------------------------
/// fork+exec from any process, threaded or not: the child calls only async-signal-safe
/// functions. `fd_map` holds pairs (source, target): in the child each source is dup2'd to
/// its target; every other descriptor above 2 is closed. `cwd` may be NULL. When `setsid`
/// is non-zero the child starts a new session. Returns the child's pid, or -1 with errno
/// (including the errno of a failed exec in the child). The child shares the caller's memory
/// until it execs (CLONE_VM | CLONE_VFORK), as posix_spawn's does.
pid_t berth_spawn(const char *path, char *const argv[], char *const envp[],
                  const int *fd_map, int fd_map_count, const char *cwd, int setsid);

// ---- misc -------------------------------------------------------------------------------
unsigned long berth_major(dev_t dev);
unsigned long berth_minor(dev_t dev);
dev_t berth_makedev(unsigned long major, unsigned long minor);
long berth_syscall6(long number, long a1, long a2, long a3, long a4, long a5, long a6);
int berth_bpf(int cmd, void *attr, unsigned int size);

// ---- the exec stub ----------------------------------------------------------------------
/// A tiny static ELF program (no libc) that calls execve(argv[1], &argv[2], envp) and exits
/// 127 if that fails. The container's process is exec'd through a sealed memfd copy of it, so
/// /proc/self/exe in the container never names the host's berth-runtime binary
/// (CVE-2019-5736). NULL with size 0 on architectures without a stub.
const unsigned char *berth_exec_stub(size_t *size);

#endif
