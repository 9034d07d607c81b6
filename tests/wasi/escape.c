/* Escape attempts: paths leaving the preopens must fail, never reach the
 * host (the harness puts `secret.txt` beside the sandbox and a symlink
 * `/sandbox/link` pointing at it). */
#include "common.h"
#include <fcntl.h>

static void try_open(const char *path) {
    int fd = open(path, O_RDONLY);
    printf("open %s: %s\n", path, fd < 0 ? errname(errno) : "OPENED");
}

int main(void) {
    try_open("/sandbox/../secret.txt");
    try_open("/sandbox/../../etc/passwd");
    try_open("/etc/passwd");
    try_open("secret.txt");
    try_open("/sandbox/link");
    report("create through ..", open("/sandbox/../new.txt", O_WRONLY | O_CREAT, 0644));
    return 0;
}
