/* Writing to a closed pipe: the harness closes this program's stdout
 * (see epipe.stdout-closed), so a write must fail with EPIPE and the
 * program must keep running (no SIGPIPE). */
#include "common.h"
#include <unistd.h>

int main(void) {
    static char block[4096];
    memset(block, 'x', sizeof block);
    for (int i = 0; i < 100000; i++) {
        if (write(1, block, sizeof block) < 0) {
            fprintf(stderr, "write failed: %s\n", errname(errno));
            return 0;
        }
    }
    fprintf(stderr, "never failed\n");
    return 1;
}
