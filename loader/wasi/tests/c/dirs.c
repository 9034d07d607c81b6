/* mkdir, rmdir, rename, unlink and their errors. */
#include "common.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void) {
    struct stat st;
    report("mkdir a", mkdir("/sandbox/a", 0755));
    report("mkdir a again", mkdir("/sandbox/a", 0755));
    report("mkdir a/b", mkdir("/sandbox/a/b", 0755));
    report("stat a/b", stat("/sandbox/a/b", &st));
    printf("a/b is dir: %d\n", S_ISDIR(st.st_mode));
    report("rmdir a (not empty)", rmdir("/sandbox/a"));
    report("rmdir a/b", rmdir("/sandbox/a/b"));
    report("rmdir a/b again", rmdir("/sandbox/a/b"));
    report("rmdir a file", rmdir("/sandbox/input.txt"));
    report("mkdir under a file", mkdir("/sandbox/input.txt/x", 0755));

    close(open("/sandbox/f1", O_CREAT | O_WRONLY, 0644));
    report("rename f1 -> a/f2", rename("/sandbox/f1", "/sandbox/a/f2"));
    report("stat f1", stat("/sandbox/f1", &st));
    report("stat a/f2", stat("/sandbox/a/f2", &st));
    report("rename missing", rename("/sandbox/nope", "/sandbox/nope2"));
    report("rename dir over file", rename("/sandbox/a", "/sandbox/input.txt"));
    report("unlink a/f2", unlink("/sandbox/a/f2"));
    report("unlink a/f2 again", unlink("/sandbox/a/f2"));
    report("unlink a dir", unlink("/sandbox/a"));
    report("rmdir a", rmdir("/sandbox/a"));
    report("open dir for writing", open("/sandbox", O_WRONLY));
    report("link", link("/sandbox/input.txt", "/sandbox/hard"));
    report("stat hard", stat("/sandbox/hard", &st));
    printf("nlink %d size %lld\n", (int)st.st_nlink, (long long)st.st_size);
    report("unlink hard", unlink("/sandbox/hard"));
    report("rename into ro", rename("/sandbox/input.txt", "/ro/x"));
    return 0;
}
