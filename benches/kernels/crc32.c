/* crc32: table-driven CRC-32 (IEEE, reflected, slicing-by-1) over a
   generated 8 MiB buffer, repeated; prints the CRCs xor-folded. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define SIZE (8u << 20)
#define REPS 24

static uint32_t table[256];

static void make_table(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
}

static uint32_t crc32(const uint8_t *p, uint32_t n) {
  uint32_t c = 0xffffffffu;
  for (uint32_t i = 0; i < n; i++) c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

int main(void) {
  make_table();
  uint8_t *buf = malloc(SIZE);
  if (!buf) return 1;
  uint32_t s = 99;
  for (uint32_t i = 0; i < SIZE; i++) { s = s * 1664525u + 1013904223u; buf[i] = (uint8_t)(s >> 24); }
  uint32_t fold = 0;
  for (int r = 0; r < REPS; r++) {
    buf[r * 3] ^= 0x5a;
    uint32_t c = crc32(buf, SIZE);
    fold = (fold << 1 | fold >> 31) ^ c;
  }
  printf("crc32 %08x\n", fold);
  free(buf);
  return 0;
}
