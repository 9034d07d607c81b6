/* `wasmo exec app.wasmo | head -1`: the harness closes the reading end of
 * stdout (epipe.pipe). As under wasmtime, SIGPIPE does not kill anything:
 * buffered stdio writes fail with EPIPE, the program goes on and decides
 * (here it notices through ferror and exits 0), and wasmo prints nothing. */
#include "common.h"

int main(void) {
    for (int i = 0; i < 200000; i++)
        printf("line %d of a long listing\n", i);
    int failed = ferror(stdout);
    fprintf(stderr, "stdout: %s\n", failed ? "error" : "all written");
    return failed ? 0 : 1;
}
