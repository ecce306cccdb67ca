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

/// The kernel's id of the calling thread (what `top -H` and /proc/self/task show), for messages.
static inline int cuv_kernel_thread_id(void) {
    return (int) syscall(SYS_gettid);
}

#endif
