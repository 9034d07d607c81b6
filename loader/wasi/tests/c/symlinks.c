/* symlink, readlink, following and not following, and links that try to
 * leave the sandbox. */
#include "common.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void) {
    char buf[128];
    struct stat st;
    report("symlink link -> input.txt", symlink("input.txt", "/sandbox/link"));
    ssize_t n = readlink("/sandbox/link", buf, sizeof buf);
    printf("readlink: %zd \"%.*s\"\n", n, (int)(n > 0 ? n : 0), buf);
    n = readlink("/sandbox/link", buf, 3);
    printf("readlink truncated: %zd \"%.*s\"\n", n, (int)(n > 0 ? n : 0), buf);
    report("readlink a file", (int)readlink("/sandbox/input.txt", buf, sizeof buf));
    int fd = report("open through link", open("/sandbox/link", O_RDONLY));
    n = read(fd, buf, 8);
    printf("read: \"%.*s\"\n", (int)(n > 0 ? n : 0), buf);
    close(fd);
    report("lstat link", lstat("/sandbox/link", &st));
    printf("is symlink: %d\n", S_ISLNK(st.st_mode));
    report("stat link", stat("/sandbox/link", &st));
    printf("is regular: %d\n", S_ISREG(st.st_mode));
    report("open link O_NOFOLLOW", open("/sandbox/link", O_RDONLY | O_NOFOLLOW));

    report("symlink esc -> ../outside.txt", symlink("../outside.txt", "/sandbox/esc"));
    report("open esc", open("/sandbox/esc", O_RDONLY));
    report("stat esc", stat("/sandbox/esc", &st));
    report("lstat esc", lstat("/sandbox/esc", &st));
    report("symlink abs -> /etc/passwd", symlink("/etc/passwd", "/sandbox/abs"));
    report("symlink loop1 -> loop2", symlink("loop2", "/sandbox/loop1"));
    report("symlink loop2 -> loop1", symlink("loop1", "/sandbox/loop2"));
    report("open loop", open("/sandbox/loop1", O_RDONLY));
    report("unlink esc", unlink("/sandbox/esc"));
    report("unlink link", unlink("/sandbox/link"));
    report("stat input after unlinking link", stat("/sandbox/input.txt", &st));
    return 0;
}
