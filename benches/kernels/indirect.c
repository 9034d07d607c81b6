/* indirect: calls through a table of function pointers chosen by data,
   so the compiler cannot devirtualise them; prints the accumulator. */
#include <stdint.h>
#include <stdio.h>

#define ITERS 60000000u

typedef uint32_t (*op_fn)(uint32_t, uint32_t);

__attribute__((noinline)) static uint32_t op_add(uint32_t a, uint32_t b) { return a + b; }
__attribute__((noinline)) static uint32_t op_xor(uint32_t a, uint32_t b) { return a ^ (b * 3u); }
__attribute__((noinline)) static uint32_t op_mul(uint32_t a, uint32_t b) { return a * (b | 1u); }
__attribute__((noinline)) static uint32_t op_rot(uint32_t a, uint32_t b) { return (a << (b & 31)) | (a >> ((32 - b) & 31)); }
__attribute__((noinline)) static uint32_t op_sub(uint32_t a, uint32_t b) { return a - (b >> 1); }
__attribute__((noinline)) static uint32_t op_mix(uint32_t a, uint32_t b) { return (a ^ (a >> 15)) + b; }
__attribute__((noinline)) static uint32_t op_and(uint32_t a, uint32_t b) { return (a & ~b) + 0x9e3779b9u; }
__attribute__((noinline)) static uint32_t op_neg(uint32_t a, uint32_t b) { return ~a + b; }

static op_fn table[8] = {op_add, op_xor, op_mul, op_rot, op_sub, op_mix, op_and, op_neg};

int main(void) {
  volatile uint32_t seed = 1;
  uint32_t acc = seed, s = 88172645u;
  for (uint32_t i = 0; i < ITERS; i++) {
    s ^= s << 13; s ^= s >> 17; s ^= s << 5;
    acc = table[s & 7](acc, i);
  }
  printf("indirect %u\n", acc);
  return 0;
}
