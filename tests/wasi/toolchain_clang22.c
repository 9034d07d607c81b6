// Issue 10: what today's toolchains emit by default. Built twice, by
// clang-22 with its defaults (toolchain_clang22) and by clang-19 with the
// same features asked for by flag (toolchain_clang19): bulk memory
// (wasi-libc's memcpy/memset and struct copies become memory.copy and
// memory.fill), non-trapping float-to-int conversions, multi-value, sign
// extension and reference types (the overlong call_indirect encoding).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct big { int32_t v[64]; };

static struct big make(int seed) {
    struct big b;
    for (int i = 0; i < 64; i++)
        b.v[i] = seed * 31 + i;
    return b;
}

static int cmp(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

typedef int (*op_fn)(int, int);
static int add(int a, int b) { return a + b; }
static int sub(int a, int b) { return a - b; }
static int mul(int a, int b) { return a * b; }

int main(int argc, char **argv) {
    (void)argv;
    // Large copies and fills.
    size_t n = 3u << 20;
    char *a = malloc(n), *b = malloc(n);
    memset(a, 'x', n);
    for (size_t i = 0; i < n; i += 4099)
        a[i] = (char)('a' + i % 26);
    memcpy(b, a, n);
    memmove(b + 1, b, n - 1);
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)b[i]) * 16777619u;
    printf("hash %08x\n", h);
    // Struct copies.
    struct big s = make(argc), t = s;
    t.v[3] += 1;
    printf("struct %d %d %d\n", s.v[3], t.v[3], t.v[63]);
    // Saturating conversions: what C leaves undefined, wasm defines.
    volatile double big = 1e20, nan = 0.0 / 0.0, neg = -3.7;
    printf("convert %d %d %d\n", (int)neg, (int)(float)neg, (int)(neg * 2));
    (void)big;
    (void)nan;
    // Sign extension.
    volatile int32_t w = 0x1234ff80;
    printf("sext %d %d\n", (int8_t)w, (int16_t)w);
    // Indirect calls and qsort through function pointers.
    op_fn ops[] = {add, sub, mul};
    int acc = 1;
    for (int i = 0; i < 30; i++)
        acc = ops[i % 3](acc, i + argc) & 0xffff;
    int32_t arr[100];
    for (int i = 0; i < 100; i++)
        arr[i] = (i * 7919) % 101 - 50;
    qsort(arr, 100, sizeof arr[0], cmp);
    printf("ops %d sorted %d %d %d\n", acc, arr[0], arr[50], arr[99]);
    free(a);
    free(b);
    return 0;
}
