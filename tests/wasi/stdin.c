/* stdin is the host's: counts bytes and lines, echoes it upper-cased. */
#include <ctype.h>
#include <stdio.h>

int main(void) {
    int c, bytes = 0, lines = 0;
    while ((c = getchar()) != EOF) {
        bytes++;
        if (c == '\n') lines++;
        putchar(toupper(c));
    }
    printf("bytes=%d lines=%d\n", bytes, lines);
    return 0;
}
