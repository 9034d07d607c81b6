/* hash: FNV-1a (64-bit) and a multiply-rotate xxhash-like mix over a
   generated 4 MiB buffer, repeated; prints both digests. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define SIZE (4u << 20)
#define REPS 200

static uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

int main(void) {
  uint8_t *buf = malloc(SIZE);
  if (!buf) return 1;
  uint32_t s = 7;
  for (uint32_t i = 0; i < SIZE; i++) {
    s ^= s << 13; s ^= s >> 17; s ^= s << 5;
    buf[i] = (uint8_t)s;
  }
  uint64_t fnv = 0xcbf29ce484222325ull, xx = 0;
  for (int r = 0; r < REPS; r++) {
    buf[r] ^= (uint8_t)r;
    if (r % 4 == 0) {
      for (uint32_t i = 0; i < SIZE; i++) { fnv ^= buf[i]; fnv *= 0x100000001b3ull; }
    }
    uint64_t acc = 0x9e3779b97f4a7c15ull + (uint64_t)r;
    for (uint32_t i = 0; i < SIZE; i += 8) {
      uint64_t w;
      __builtin_memcpy(&w, buf + i, 8);
      acc = rotl(acc + w * 0xc2b2ae3d27d4eb4full, 31) * 0x9e3779b185ebca87ull;
    }
    acc ^= acc >> 33; acc *= 0xff51afd7ed558ccdull; acc ^= acc >> 29;
    xx ^= acc;
  }
  printf("hash %016llx %016llx\n", (unsigned long long)fnv, (unsigned long long)xx);
  free(buf);
  return 0;
}
