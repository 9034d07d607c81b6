/* zstd_main: compresses a generated 8 MiB input (log-like text with
   repeats, and a binary part) with the zstd library from the zstd-sys
   crate at levels 1, 3 and 9, decompresses each frame and checks the
   round trip; prints the compressed sizes and a hash of the output. Both
   builds use the same C code: no assembly (ZSTD_DISABLE_ASM), no
   intrinsics (ZSTD_NO_INTRINSICS), no BMI2 dispatch (DYNAMIC_BMI2=0). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zstd.h"

#define SIZE (8u << 20)

int main(void) {
  uint8_t *src = malloc(SIZE), *back = malloc(SIZE);
  size_t cap = ZSTD_compressBound(SIZE);
  uint8_t *dst = malloc(cap);
  if (!src || !back || !dst) return 1;
  static const char *const words[] = {"GET", "POST", "/index.html", "/api/v1/items", "200", "404",
                                      "Mozilla/5.0", "curl/8.5", "user", "session", "-", "ms"};
  uint32_t s = 31337;
  size_t n = 0;
  while (n < SIZE / 4 * 3) {
    s = s * 1103515245u + 12345u;
    int len = snprintf((char *)src + n, SIZE - n, "2026-12-03T%02u:%02u:%02u %s %s %u %s\n", (s >> 8) % 24,
                       (s >> 13) % 60, (s >> 19) % 60, words[(s >> 4) % 12], words[(s >> 9) % 12],
                       (s >> 14) % 5000, words[(s >> 22) % 12]);
    n += (size_t)len;
  }
  while (n < SIZE) {
    s ^= s << 13; s ^= s >> 17; s ^= s << 5;
    src[n++] = (uint8_t)(s % 7 ? s >> 24 & 0x0f : s >> 16);
  }
  static const int levels[] = {1, 3, 9};
  uint64_t h = 1469598103934665603ull;
  for (int i = 0; i < 3; i++) {
    size_t csize = ZSTD_compress(dst, cap, src, SIZE, levels[i]);
    if (ZSTD_isError(csize)) { fprintf(stderr, "zstd: %s\n", ZSTD_getErrorName(csize)); return 2; }
    size_t total = 0;
    for (int r = 0; r < 4; r++) {
      size_t dsize = ZSTD_decompress(back, SIZE, dst, csize);
      if (ZSTD_isError(dsize) || dsize != SIZE || memcmp(back, src, SIZE) != 0) {
        fprintf(stderr, "zstd: round trip failed at level %d\n", levels[i]);
        return 3;
      }
      total += dsize;
    }
    for (size_t k = 0; k < csize; k++) h = (h ^ dst[k]) * 1099511628211ull;
    printf("zstd level %d: %u -> %zu bytes, %zu decompressed\n", levels[i], SIZE, csize, total);
  }
  printf("zstd hash %016llx\n", (unsigned long long)h);
  free(src); free(back); free(dst);
  return 0;
}
