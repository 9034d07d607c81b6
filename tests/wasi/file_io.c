/* File I/O in the read-write preopen /sandbox: create, write, read back,
 * seek, rename, list, unlink. */
#include "common.h"
#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

int main(void) {
    FILE *f = fopen("/sandbox/a.txt", "w");
    printf("create: %s\n", f ? "ok" : errname(errno));
    if (!f) return 1;
    for (int i = 0; i < 100; i++) fprintf(f, "line %d\n", i);
    fclose(f);
    f = fopen("/sandbox/a.txt", "r");
    char buf[64];
    int lines = 0;
    while (fgets(buf, sizeof buf, f)) lines++;
    printf("lines: %d\n", lines);
    fseek(f, 7 * 50, SEEK_SET);
    fgets(buf, sizeof buf, f);
    printf("at 350: %s", buf);
    fclose(f);
    report("rename", rename("/sandbox/a.txt", "/sandbox/b.txt"));
    report("open old name", fopen("/sandbox/a.txt", "r") ? 0 : -1);
    DIR *d = opendir("/sandbox");
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') printf("entry: %s\n", e->d_name);
    if (d) closedir(d);
    report("unlink", unlink("/sandbox/b.txt"));
    report("unlink again", unlink("/sandbox/b.txt"));
    return 0;
}
