/* membound: memory-bound loops over a 64 MiB buffer: a strided sum
   (one int per 64-byte line), a memcpy-like copy and a sequential sum. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORDS (16u << 20) /* 16 Mi u32 = 64 MiB */
#define REPS 4

int main(void) {
  uint32_t *a = malloc(WORDS * 4), *b = malloc(WORDS * 4);
  if (!a || !b) return 1;
  for (uint32_t i = 0; i < WORDS; i++) a[i] = i * 2654435761u;
  uint64_t sum = 0;
  for (int r = 0; r < REPS; r++) {
    for (uint32_t off = 0; off < 16; off++)
      for (uint32_t i = off; i < WORDS; i += 16) sum += a[i];
    for (uint32_t i = 0; i < WORDS; i++) b[i] = a[i] + (uint32_t)r;
    memcpy(a, b, WORDS * 4);
    for (uint32_t i = 0; i < WORDS; i++) sum += b[i] >> 3;
  }
  printf("membound %llu\n", (unsigned long long)sum);
  free(a); free(b);
  return 0;
}
