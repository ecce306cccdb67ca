// The C side of UVNet: libuv itself plus the few helpers Swift cannot write for itself.
#ifndef CUV_SHIM_H
#define CUV_SHIM_H

#include <uv.h>
#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
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

#endif
