/* Loops clang -O2 auto-vectorises with -msimd128 (integer and float
 * element-wise work, a byte saturating add, an integer reduction); the
 * checksums match the native build of the same file. */
#include <stdint.h>
#include <stdio.h>

#define N 4099

static int32_t xs[N], ys[N];
static uint8_t pix[N], bright[N];
static float fa[N], fb[N], fc[N];
static int16_t h[N];

int main(void) {
    uint32_t seed = 12345;
    for (int i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        xs[i] = (int32_t)(seed >> 8) - (1 << 22);
        ys[i] = (int32_t)(seed >> 12) & 0xffff;
        pix[i] = (uint8_t)(seed >> 16);
        h[i] = (int16_t)(seed >> 10);
        fa[i] = (float)(int32_t)(seed >> 9) / 1024.0f;
        fb[i] = (float)(i % 97) - 48.0f;
    }
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) ys[i] = ys[i] * 3 + xs[i] - (xs[i] >> 3);
        for (int i = 0; i < N; i++) {
            unsigned v = pix[i] + 40u;
            bright[i] = v > 255 ? 255 : (uint8_t)v;
        }
        for (int i = 0; i < N; i++) fc[i] = fa[i] * fb[i] + (fa[i] < fb[i] ? fa[i] : fb[i]);
        for (int i = 0; i < N; i++) h[i] = (int16_t)(h[i] < 0 ? -h[i] : h[i]);
    }
    int64_t sum = 0;
    for (int i = 0; i < N; i++) sum += ys[i];
    uint32_t bsum = 0;
    for (int i = 0; i < N; i++) bsum += bright[i];
    int32_t hsum = 0;
    for (int i = 0; i < N; i++) hsum += h[i];
    double fsum = 0;
    for (int i = 0; i < N; i++) fsum += fc[i];
    printf("ints %lld\nbytes %u\nshorts %d\nfloats %.6f\n", (long long)sum, bsum, hsum, fsum);
    return 0;
}
