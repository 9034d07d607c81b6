/* Shared helpers of the WASI test programs: print each call's outcome as
 * "what: ok" or "what: ERRNAME" so the goldens say exactly which errno the
 * host returned. Only deterministic text may be printed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

static inline const char *errname(int e) {
    switch (e) {
    case 0: return "ok";
    case EACCES: return "EACCES";
    case EAGAIN: return "EAGAIN";
    case EBADF: return "EBADF";
    case EEXIST: return "EEXIST";
    case EFAULT: return "EFAULT";
    case EINVAL: return "EINVAL";
    case EIO: return "EIO";
    case EISDIR: return "EISDIR";
    case ELOOP: return "ELOOP";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ENOENT: return "ENOENT";
    case ENOSYS: return "ENOSYS";
    case ENOTCAPABLE: return "ENOTCAPABLE";
    case ENOTDIR: return "ENOTDIR";
    case ENOTEMPTY: return "ENOTEMPTY";
    case ENOTSOCK: return "ENOTSOCK";
    case ENOTSUP: return "ENOTSUP";
    case EPERM: return "EPERM";
    case EPIPE: return "EPIPE";
    case EROFS: return "EROFS";
    case ESPIPE: return "ESPIPE";
    case EXDEV: return "EXDEV";
    default: return "other";
    }
}

/* Reports a call returning -1 (or a negative value) on failure with errno
 * set, and returns its result. */
static inline int report(const char *what, int ret) {
    printf("%s: %s\n", what, ret < 0 ? errname(errno) : "ok");
    return ret;
}

/* Reports a call that returns an error number directly (posix_fallocate). */
static inline int report_rc(const char *what, int rc) {
    printf("%s: %s\n", what, errname(rc));
    return rc;
}
