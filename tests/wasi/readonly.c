/* The read-only preopen /ro: reading works, every change is refused. */
#include "common.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void) {
    FILE *f = fopen("/ro/data.txt", "r");
    char buf[64] = {0};
    if (f) { fgets(buf, sizeof buf, f); fclose(f); }
    printf("read: %s", f ? buf : "failed\n");
    report("create", open("/ro/new.txt", O_WRONLY | O_CREAT, 0644));
    report("write existing", open("/ro/data.txt", O_WRONLY));
    report("mkdir", mkdir("/ro/sub", 0755));
    report("unlink", unlink("/ro/data.txt"));
    report("rename", rename("/ro/data.txt", "/ro/moved.txt"));
    return 0;
}
