/* Files in a preopened directory: write, read back, seek, tell, pread,
 * pwrite, ftruncate, fallocate, stat, append, timestamps, and the
 * read-only preopen. */
#include "common.h"
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

int main(void) {
    char buf[64];
    int fd = report("open out.txt", open("/sandbox/out.txt", O_CREAT | O_RDWR | O_TRUNC, 0644));
    if (fd < 0)
        return 1;
    report("write", write(fd, "hello, file\n", 12) == 12 ? 0 : -1);
    printf("tell after write: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
    printf("seek to 7: %lld\n", (long long)lseek(fd, 7, SEEK_SET));
    ssize_t n = read(fd, buf, sizeof buf);
    printf("read after seek: %zd \"%.*s\"\n", n, (int)(n > 0 ? n - 1 : 0), buf);
    printf("seek end -5: %lld\n", (long long)lseek(fd, -5, SEEK_END));
    report("seek before start", (int)lseek(fd, -100, SEEK_SET));
    n = pwrite(fd, "HELLO", 5, 0);
    printf("pwrite: %zd, position still %lld\n", n, (long long)lseek(fd, 0, SEEK_CUR));
    n = pread(fd, buf, 11, 0);
    printf("pread: %zd \"%.*s\"\n", n, (int)n, buf);
    report("ftruncate 5", ftruncate(fd, 5));
    struct stat st;
    report("fstat", fstat(fd, &st));
    printf("size %lld regular %d\n", (long long)st.st_size, S_ISREG(st.st_mode));
    report_rc("posix_fallocate to 100", posix_fallocate(fd, 0, 100));
    fstat(fd, &st);
    printf("size after fallocate %lld\n", (long long)st.st_size);
    struct timespec times[2] = {{1000000000, 5}, {1234567890, 123456789}};
    report("futimens", futimens(fd, times));
    fstat(fd, &st);
    printf("mtime %lld.%09ld\n", (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    report("close", close(fd));
    report("close again", close(fd));

    report("stat by path", stat("/sandbox/out.txt", &st));
    printf("size by path %lld\n", (long long)st.st_size);
    report("utimensat", utimensat(AT_FDCWD, "/sandbox/out.txt", times, 0));

    fd = report("open append", open("/sandbox/out.txt", O_WRONLY | O_APPEND));
    lseek(fd, 0, SEEK_SET);
    write(fd, "tail", 4);
    fstat(fd, &st);
    printf("size after append %lld\n", (long long)st.st_size);
    report("read from write-only", (int)read(fd, buf, 4));
    close(fd);

    FILE *f = fopen("/sandbox/input.txt", "r");
    printf("fopen input: %s\n", f ? "ok" : errname(errno));
    while (f && fgets(buf, sizeof buf, f))
        printf("input: %s", buf);
    if (f)
        fclose(f);

    fd = report("open read-only", open("/sandbox/input.txt", O_RDONLY));
    report("write to read-only fd", (int)write(fd, "x", 1));
    close(fd);

    fd = report("open ro/data.txt", open("/ro/data.txt", O_RDONLY));
    n = read(fd, buf, sizeof buf);
    printf("ro data: %.*s", (int)n, buf);
    close(fd);
    report("open ro/data.txt for writing", open("/ro/data.txt", O_WRONLY));
    report("create in ro", open("/ro/new.txt", O_CREAT | O_WRONLY, 0644));
    report("mkdir in ro", mkdir("/ro/sub", 0755));
    report("unlink in ro", unlink("/ro/data.txt"));
    report("open missing", open("/sandbox/missing.txt", O_RDONLY));
    report("open excl existing", open("/sandbox/out.txt", O_CREAT | O_EXCL | O_WRONLY, 0644));
    report("lseek on stdout", (int)lseek(1, 0, SEEK_CUR));
    return 0;
}
