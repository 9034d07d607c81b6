/* Direct wasi_snapshot_preview1 calls that libc does not reach, or
 * reaches only with valid pointers: bad pointers (EFAULT), bad clock ids,
 * renumbering, rights, syncing directories, sockets, signals, and the
 * descriptor table as wasi-libc finds it. */
#include "common.h"
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>
#include <wasi/api.h>

/* Removed from wasi-libc's header but still part of preview1. */
__attribute__((import_module("wasi_snapshot_preview1"), import_name("proc_raise"))) int32_t raw_proc_raise(int32_t sig);

static void rc(const char *what, __wasi_errno_t e) {
    printf("%s: %s (%d)\n", what, errname(e), e);
}

int main(void) {
    __wasi_timestamp_t t;
    rc("clock_time_get bad id", __wasi_clock_time_get(99, 1, &t));
    rc("clock_time_get bad pointer", __wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, (__wasi_timestamp_t *)0xfffffff0u));
    rc("clock_res_get process", __wasi_clock_res_get(__WASI_CLOCKID_PROCESS_CPUTIME_ID, &t));
    __wasi_ciovec_t bad = {(const uint8_t *)0xfffffff0u, 64};
    __wasi_size_t n;
    rc("fd_write bad buffer", __wasi_fd_write(1, &bad, 1, &n));
    rc("fd_write bad iovec array", __wasi_fd_write(1, (const __wasi_ciovec_t *)0xfffffffcu, 1, &n));
    rc("random_get bad buffer", __wasi_random_get((uint8_t *)0xffffff00u, 0x1000));
    rc("fd_close bad fd", __wasi_fd_close(1234));

    for (__wasi_fd_t fd = 0; fd < 6; fd++) {
        __wasi_fdstat_t st;
        __wasi_errno_t e = __wasi_fd_fdstat_get(fd, &st);
        if (e) {
            printf("fd %d: %s\n", fd, errname(e));
            continue;
        }
        __wasi_prestat_t pre;
        char name[64] = "";
        if (__wasi_fd_prestat_get(fd, &pre) == 0)
            rc("fd_prestat_dir_name", __wasi_fd_prestat_dir_name(fd, (uint8_t *)name, pre.u.dir.pr_name_len));
        printf("fd %d: type %d read %d write %d readdir %d preopen \"%s\"\n", fd, st.fs_filetype,
               (st.fs_rights_base & __WASI_RIGHTS_FD_READ) != 0, (st.fs_rights_base & __WASI_RIGHTS_FD_WRITE) != 0,
               (st.fs_rights_base & __WASI_RIGHTS_FD_READDIR) != 0, name);
    }

    rc("fd_sync on a directory", __wasi_fd_sync(3));
    rc("fd_datasync on a directory", __wasi_fd_datasync(3));
    rc("fd_filestat_set_times on a directory", __wasi_fd_filestat_set_times(3, 0, 0, __WASI_FSTFLAGS_MTIM_NOW));
    rc("fd_filestat_set_times on ro", __wasi_fd_filestat_set_times(4, 0, 0, __WASI_FSTFLAGS_MTIM_NOW));
    rc("fd_filestat_set_times both", __wasi_fd_filestat_set_times(3, 0, 0, __WASI_FSTFLAGS_MTIM_NOW | __WASI_FSTFLAGS_MTIM));
    rc("fd_read on a directory", __wasi_fd_read(3, (const __wasi_iovec_t *)&bad, 0, &n));
    rc("fd_seek on a directory", __wasi_fd_seek(3, 0, __WASI_WHENCE_CUR, &t));
    rc("fd_readdir on a file", __wasi_fd_readdir(1, (uint8_t *)&t, 8, 0, &n));

    int fd = open("/sandbox/input.txt", O_RDONLY);
    rc("fd_advise", __wasi_fd_advise(fd, 0, 0, __WASI_ADVICE_SEQUENTIAL));
    rc("fd_advise bad advice", __wasi_fd_advise(fd, 0, 0, 77));
    rc("fd_sync a file", __wasi_fd_sync(fd));
    rc("fd_tell", __wasi_fd_tell(fd, &t));
    rc("fd_fdstat_set_rights shrink", __wasi_fd_fdstat_set_rights(fd, __WASI_RIGHTS_FD_READ, 0));
    rc("fd_seek without the right", __wasi_fd_seek(fd, 1, __WASI_WHENCE_SET, &t));
    rc("fd_fdstat_set_rights grow", __wasi_fd_fdstat_set_rights(fd, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK, 0));
    int fd2 = open("/sandbox/input.txt", O_RDONLY);
    __wasi_fdstat_t st2;
    rc("fd_renumber", __wasi_fd_renumber(fd, fd2));
    rc("fd_fdstat_get renumbered", __wasi_fd_fdstat_get(fd2, &st2));
    printf("rights now FD_READ only: %d\n", st2.fs_rights_base == __WASI_RIGHTS_FD_READ);
    rc("fd_close old number", __wasi_fd_close(fd));
    uint8_t c[4];
    __wasi_iovec_t iov = {c, 4};
    rc("read renumbered", __wasi_fd_read(fd2, &iov, 1, &n));
    printf("read %u bytes: %.4s\n", (unsigned)n, c);
    rc("fd_renumber to a closed fd", __wasi_fd_renumber(fd2, 999));
    rc("fd_fdstat_set_flags append on stdout", __wasi_fd_fdstat_set_flags(1, __WASI_FDFLAGS_APPEND));
    rc("fd_fdstat_set_flags nonblock on a dir", __wasi_fd_fdstat_set_flags(3, __WASI_FDFLAGS_NONBLOCK));
    int fd3 = open("/sandbox/input.txt", O_RDONLY);
    rc("fd_fdstat_set_flags sync", __wasi_fd_fdstat_set_flags(fd3, __WASI_FDFLAGS_SYNC));
    rc("fd_fdstat_set_flags nonblock", __wasi_fd_fdstat_set_flags(fd3, __WASI_FDFLAGS_NONBLOCK));
    __wasi_fdstat_t st3;
    rc("fd_fdstat_get", __wasi_fd_fdstat_get(fd3, &st3));
    printf("nonblock set: %d\n", (st3.fs_flags & __WASI_FDFLAGS_NONBLOCK) != 0);

    __wasi_fd_t sock;
    rc("sock_accept on a file", __wasi_sock_accept(fd2, 0, &sock));
    rc("sock_shutdown on a bad fd", __wasi_sock_shutdown(555, __WASI_SDFLAGS_WR));
    rc("proc_raise", (__wasi_errno_t)raw_proc_raise(15));
    rc("sched_yield", __wasi_sched_yield());

    __wasi_subscription_t sub[2] = {0};
    __wasi_event_t ev[2];
    sub[0].userdata = 7;
    sub[0].u.tag = __WASI_EVENTTYPE_FD_READ;
    sub[0].u.u.fd_read.file_descriptor = fd3;
    sub[1].userdata = 8;
    sub[1].u.tag = __WASI_EVENTTYPE_CLOCK;
    sub[1].u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
    sub[1].u.u.clock.timeout = 1000000000;
    rc("poll_oneoff file + clock", __wasi_poll_oneoff(sub, ev, 2, &n));
    printf("events %u: userdata %llu type %d error %d nbytes %llu\n", (unsigned)n,
           (unsigned long long)ev[0].userdata, ev[0].type, ev[0].error, (unsigned long long)ev[0].fd_readwrite.nbytes);
    sub[0].u.u.fd_read.file_descriptor = 4242;
    rc("poll_oneoff bad fd", __wasi_poll_oneoff(sub, ev, 1, &n));
    printf("events %u: userdata %llu error %s\n", (unsigned)n, (unsigned long long)ev[0].userdata, errname(ev[0].error));
    rc("poll_oneoff nothing", __wasi_poll_oneoff(sub, ev, 0, &n));
    return 0;
}
