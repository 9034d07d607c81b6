/* Arguments and environment: prints argv[1..] and the variables the
 * harness sets (GREETING=V and WASMO_TEST_PASS passed through by name);
 * HOME must not leak in. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    printf("hello, world\n");
    printf("argc=%d\n", argc);
    for (int i = 1; i < argc; i++)
        printf("argv[%d]=[%s]\n", i, argv[i]);
    const char *names[] = {"GREETING", "WASMO_TEST_PASS", "HOME"};
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(names[i]);
        printf("%s=%s\n", names[i], v ? v : "(unset)");
    }
    fprintf(stderr, "to stderr\n");
    return 0;
}
