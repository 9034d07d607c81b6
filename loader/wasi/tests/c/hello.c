/* Arguments, environment and the standard streams. */
#include <stdio.h>
#include <stdlib.h>

extern char **environ;

int main(int argc, char **argv) {
    printf("hello from wasi\n");
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=\"%s\"\n", i, argv[i]);
    for (char **e = environ; *e; e++)
        printf("env \"%s\"\n", *e);
    const char *g = getenv("GREETING");
    printf("GREETING=%s\n", g ? g : "(unset)");
    const char *m = getenv("MISSING");
    printf("MISSING=%s\n", m ? m : "(unset)");
    fprintf(stderr, "a line on stderr\n");
    return 0;
}
