/* Reading stdin to the end, and polling it. */
#include "common.h"
#include <ctype.h>
#include <poll.h>
#include <unistd.h>

int main(void) {
    struct pollfd p = {.fd = 0, .events = POLLIN};
    int r = poll(&p, 1, 5000);
    printf("poll stdin: %d readable %d\n", r, (p.revents & POLLIN) != 0);
    char line[128];
    int lines = 0;
    while (fgets(line, sizeof line, stdin)) {
        for (char *c = line; *c; c++)
            *c = toupper((unsigned char)*c);
        printf("%d: %s", ++lines, line);
    }
    printf("eof after %d lines\n", lines);
    char c;
    printf("read at eof: %zd\n", read(0, &c, 1));
    report("write to stdin", (int)write(0, "x", 1));
    return 0;
}
