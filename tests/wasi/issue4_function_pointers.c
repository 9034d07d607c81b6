// Regression (issue 4): clang-19 enables reference types by default and
// encodes call_indirect's table index as an overlong LEB, which a strict
// WebAssembly 1.0 decoder rejects ("zero byte expected"). Built with the
// default flags, this program calls through function pointers in user code
// and passes a comparator to libc's qsort.
#include <stdio.h>
#include <stdlib.h>

static int twice(int x) { return 2 * x; }
static int inc(int x) { return x + 1; }
static int square(int x) { return x * x; }

static int by_value(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    (void)argv;
    int (*ops[3])(int) = {twice, inc, square};
    int values[6];
    for (int i = 0; i < 6; i++) {
        values[i] = ops[(i + argc) % 3](7 - i);
    }
    qsort(values, 6, sizeof values[0], by_value);
    for (int i = 0; i < 6; i++) {
        printf("%d%c", values[i], i == 5 ? '\n' : ' ');
    }
    return 0;
}
