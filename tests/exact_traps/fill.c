// Issue 9, defect 2: a fill or copy loop that runs out of bounds must trap,
// not kill the process. Built with -fno-builtin so that the loops reach
// wasmo as loops: LLVM in wasmoc would turn them into memset/memcpy calls,
// which fault outside compiled wasm code. The addresses are constants and
// the trip count is fixed, so LLVM can prove the 32-bit addresses never wrap,
// which is what lets it form those calls.
#include <stdio.h>
#include <string.h>

#define DST ((char *)60000)
#define SRC ((const char *)1024)
#define LEN 1000000u

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: fill set|copy|small\n");
        return 2;
    }
    if (!strcmp(argv[1], "set")) {
        for (unsigned i = 0; i < LEN; i++)
            DST[i] = 7;
    } else if (!strcmp(argv[1], "copy")) {
        for (unsigned i = 0; i < LEN; i++)
            DST[i] = SRC[i];
    } else {
        for (unsigned i = 0; i < 100; i++)
            DST[i] = 7;
    }
    printf("%d\n", DST[0]);
    return 0;
}
