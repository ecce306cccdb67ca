// The C side of UVNet: libuv itself plus the few helpers Swift cannot write for itself.
#ifndef CUV_SHIM_H
#define CUV_SHIM_H

#include <uv.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/uio.h>
#include <stddef.h>
#include <string.h>
#include <netinet/in.h>

/// True when the libuv headers we compile against are at least MAJ.MIN.
/// UVNet targets 1.44 (Debian bookworm); newer APIs are used only behind this gate.
#define CUV_VERSION_GEQ(maj, min) \
    (UV_VERSION_MAJOR > (maj) || (UV_VERSION_MAJOR == (maj) && UV_VERSION_MINOR >= (min)))

/// libuv does not pass MSG_NOSIGNAL on Linux, so a write to a dead peer would raise SIGPIPE and
/// kill the process. SIG_IGN is a macro cast Swift cannot import, hence this helper.
static inline void cuv_ignore_sigpipe(void) {
    signal(SIGPIPE, SIG_IGN);
}

/// SO_REUSEPORT by hand: libuv 1.44 has no UV_TCP_REUSEPORT flag. Returns 0 or a negative errno.
static inline int cuv_set_reuse_port(int fd) {
    int on = 1;
    return setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == 0 ? 0 : -errno;
}

/// The calling thread as one machine word, for the check every handle makes on every call that it runs
/// on its loop's thread. The thread pointer is read inline (one instruction on x86-64 and arm64; on
/// glibc it is what pthread_self returns), where pthread_self would cost a call into libc.
static inline uintptr_t cuv_current_thread(void) {
#if __has_builtin(__builtin_thread_pointer)
    return (uintptr_t) __builtin_thread_pointer();
#else
    return (uintptr_t) pthread_self();
#endif
}

/// The Swift runtime's answer to "which task runs on this thread?" (an exported entry point of
/// libswift_Concurrency, Swift's calling convention), declared here because Swift code may not name
/// runtime symbols. Only the address is used, to tell tasks apart.
extern void *swift_task_getCurrent(void) __attribute__((swiftcall));

/// The task running on the calling thread, or null. `withUnsafeCurrentTask` answers the same through
/// a generic closure call: some 330 instructions against 20, on every await of a cancellation scope.
static inline uintptr_t cuv_current_task(void) {
    return (uintptr_t) swift_task_getCurrent();
}

/// The runtime's cancellation flag of a task (`swift_task_isCancelled`), as `Task.isCancelled` reads it.
extern _Bool swift_task_isCancelled(void *task) __attribute__((swiftcall));

/// Whether the task `cuv_current_task` named has been canceled.
static inline _Bool cuv_task_is_canceled(uintptr_t task) {
    return swift_task_isCancelled((void *) task);
}

/// The kernel's id of the calling thread (what `top -H` and /proc/self/task show), for messages.
static inline int cuv_kernel_thread_id(void) {
    return (int) syscall(SYS_gettid);
}

/// The credentials of the process at the other end of a Unix-domain socket, as the kernel recorded
/// them when it connected (Linux's `struct ucred`, whose name needs _GNU_SOURCE; same layout).
typedef struct {
    int pid;
    unsigned int uid;
    unsigned int gid;
} cuv_peer_credentials_t;

/// SO_PEERCRED. Returns 0 or a negative errno.
static inline int cuv_peer_credentials(int fd, cuv_peer_credentials_t *credentials) {
    socklen_t length = sizeof *credentials;
    return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, credentials, &length) == 0 ? 0 : -errno;
}

/// A Unix-domain stream socket, non-blocking and close-on-exec. Returns the descriptor or a negative errno.
static inline int cuv_unix_socket(void) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    return fd >= 0 ? fd : -errno;
}

/// Fills `address` with the `length` bytes of `name` (a leading NUL byte names Linux's abstract
/// namespace) and returns the address's length, or -ENAMETOOLONG when it does not fit sun_path.
static inline int cuv_unix_address(struct sockaddr_un *address, const char *name, size_t length) {
    if (length > sizeof address->sun_path) return -ENAMETOOLONG;
    memset(address, 0, sizeof *address);
    address->sun_family = AF_UNIX;
    memcpy(address->sun_path, name, length);
    return (int) (offsetof(struct sockaddr_un, sun_path) + length);
}

/// Binds `fd` to `name` (see cuv_unix_address). Returns 0 or a negative errno.
static inline int cuv_unix_bind(int fd, const char *name, size_t length) {
    struct sockaddr_un address;
    int size = cuv_unix_address(&address, name, length);
    if (size < 0) return size;
    return bind(fd, (struct sockaddr *) &address, (socklen_t) size) == 0 ? 0 : -errno;
}

/// Connects `fd` to `name` (see cuv_unix_address). A Unix-domain connect does not wait: it succeeds,
/// or fails at once (EAGAIN when the listener's backlog is full). Returns 0 or a negative errno.
static inline int cuv_unix_connect(int fd, const char *name, size_t length) {
    struct sockaddr_un address;
    int size = cuv_unix_address(&address, name, length);
    if (size < 0) return size;
    int r;
    do { r = connect(fd, (struct sockaddr *) &address, (socklen_t) size); } while (r == -1 && errno == EINTR);
    return r == 0 ? 0 : -errno;
}

/// Whether `fd` is a listening socket (SO_ACCEPTCONN): 1, 0, or a negative errno.
static inline int cuv_is_listening(int fd) {
    int on = 0;
    socklen_t length = sizeof on;
    return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &length) == 0 ? (on != 0) : -errno;
}

/// The longest path a Unix-domain socket can have (sun_path, less its terminating NUL).
static inline int cuv_unix_path_limit(void) {
    return (int) sizeof(((struct sockaddr_un *) 0)->sun_path) - 1;
}

/// Reads up to `length` bytes at `offset` only if the page cache holds them: the count read (0 at the
/// end of the file; Linux reads at most about 2 GiB at once, so it fits an int), -EAGAIN when reading
/// would wait for the disk or when the kernel or file system cannot tell (EOPNOTSUPP, ENOSYS, EINVAL:
/// read it elsewhere), or another negative errno. `preadv2` with RWF_NOWAIT, by syscall: glibc
/// declares it only under _GNU_SOURCE.
static inline int cuv_read_cached(int fd, void *buffer, size_t length, int64_t offset) {
#if defined(__linux__) && defined(SYS_preadv2)
    struct iovec vector = { buffer, length };
    long result = syscall(SYS_preadv2, fd, &vector, 1, (long)offset, (long)((uint64_t)offset >> 32), 0x00000008 /* RWF_NOWAIT */);
    if (result >= 0) return (int)result;
    return (errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL) ? -EAGAIN : -errno;
#else
    (void)fd; (void)buffer; (void)length; (void)offset;
    return -EAGAIN;
#endif
}

#endif
