/* Directory listing through fd_readdir (sorted here: the host's order is
 * unspecified). */
#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void) {
    report("mkdir d", mkdir("/sandbox/d", 0755));
    const char *names[] = {"c.txt", "a.txt", "b-longer-name.txt"};
    for (int i = 0; i < 3; i++) {
        char path[128];
        snprintf(path, sizeof path, "/sandbox/d/%s", names[i]);
        close(open(path, O_CREAT | O_WRONLY, 0644));
    }
    report("mkdir d/sub", mkdir("/sandbox/d/sub", 0755));
    for (int i = 0; i < 600; i++) {
        char path[128];
        snprintf(path, sizeof path, "/sandbox/d/sub/file-with-a-name-long-enough-to-need-several-buffers-%03d", i);
        close(open(path, O_CREAT | O_WRONLY, 0644));
    }

    DIR *d = opendir("/sandbox/d");
    printf("opendir: %s\n", d ? "ok" : errname(errno));
    char *found[16];
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && n < 16) {
        char *s = malloc(strlen(e->d_name) + 8);
        sprintf(s, "%s %s", e->d_name, e->d_type == DT_DIR ? "dir" : e->d_type == DT_REG ? "file" : "other");
        found[n++] = s;
    }
    closedir(d);
    qsort(found, n, sizeof found[0], cmp);
    for (int i = 0; i < n; i++)
        printf("entry: %s\n", found[i]);

    d = opendir("/sandbox/d/sub");
    int count = 0;
    while (d && (e = readdir(d)))
        count++;
    closedir(d);
    printf("sub entries (with . and ..): %d\n", count);
    /* Remove entries while listing: every entry is still seen once. */
    d = opendir("/sandbox/d/sub");
    int removed = 0;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[128];
        snprintf(path, sizeof path, "/sandbox/d/sub/%s", e->d_name);
        if (unlink(path) == 0)
            removed++;
    }
    closedir(d);
    printf("removed while listing: %d\n", removed);
    report("rmdir d/sub", rmdir("/sandbox/d/sub"));
    report("opendir on a file", opendir("/sandbox/input.txt") ? 0 : -1);
    report("opendir missing", opendir("/sandbox/nope") ? 0 : -1);
    return 0;
}
