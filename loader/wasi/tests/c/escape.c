/* Paths that try to leave the preopened directories must fail. */
#include "common.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void) {
    struct stat st;
    report("open ../outside.txt", open("/sandbox/../outside.txt", O_RDONLY));
    report("open /etc/passwd", open("/etc/passwd", O_RDONLY));
    report("stat ../outside.txt", stat("/sandbox/../outside.txt", &st));
    report("stat a/../../outside.txt", stat("/sandbox/sub/../../outside.txt", &st));
    report("create ../evil", open("/sandbox/../evil", O_CREAT | O_WRONLY, 0644));
    report("mkdir ../evil", mkdir("/sandbox/../evil", 0755));
    report("rename input.txt -> ../moved", rename("/sandbox/input.txt", "/sandbox/../moved"));
    report("unlink ../outside.txt", unlink("/sandbox/../outside.txt"));
    report("open ro/../sandbox/input.txt", open("/ro/../sandbox/input.txt", O_RDONLY));
    report("open /sandbox/./input.txt", open("/sandbox/./input.txt", O_RDONLY));
    report("chdir /sandbox", chdir("/sandbox"));
    report("open input.txt after chdir", open("input.txt", O_RDONLY));
    report("open ../outside.txt after chdir", open("../outside.txt", O_RDONLY));
    return 0;
}
