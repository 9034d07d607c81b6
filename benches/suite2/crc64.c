/* crc64: table-driven CRC-64 (ECMA-182 polynomial, reflected, as in xz)
   computed slicing-by-8 (eight 256-entry tables, 64 bits per step, as
   zlib and xz do) over a generated 8 MiB buffer, repeated; prints the CRCs
   xor-folded. Distinct from crc32.c, which is byte-at-a-time. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIZE (8u << 20)
#define REPS 100

static uint64_t table[8][256];

static void make_tables(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint64_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xc96c5795d7870f42ull ^ (c >> 1) : c >> 1;
    table[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; i++)
    for (int t = 1; t < 8; t++) table[t][i] = table[0][table[t - 1][i] & 0xff] ^ (table[t - 1][i] >> 8);
}

static uint64_t crc64(uint64_t crc, const uint8_t *p, size_t n) {
  crc = ~crc;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    crc ^= w;
    crc = table[7][crc & 0xff] ^ table[6][(crc >> 8) & 0xff] ^ table[5][(crc >> 16) & 0xff] ^
          table[4][(crc >> 24) & 0xff] ^ table[3][(crc >> 32) & 0xff] ^ table[2][(crc >> 40) & 0xff] ^
          table[1][(crc >> 48) & 0xff] ^ table[0][crc >> 56];
    p += 8;
    n -= 8;
  }
  while (n--) crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

int main(void) {
  make_tables();
  uint8_t *buf = malloc(SIZE);
  if (!buf) return 1;
  uint32_t s = 12345;
  for (uint32_t i = 0; i < SIZE; i++) {
    s = s * 1664525u + 1013904223u;
    buf[i] = (uint8_t)(s >> 24);
  }
  uint64_t fold = 0;
  for (int r = 0; r < REPS; r++) {
    buf[r * 7] ^= (uint8_t)r;
    /* An odd start offset too, so the tail loop and unaligned words run. */
    fold ^= crc64(0, buf + (r & 7), SIZE - 8) + (uint64_t)r;
  }
  printf("crc64 %016llx check=%016llx\n", (unsigned long long)fold,
         (unsigned long long)crc64(0, (const uint8_t *)"123456789", 9));
  free(buf);
  return 0;
}
