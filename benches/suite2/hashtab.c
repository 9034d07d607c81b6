/* hashtab: an open-addressing hash table (linear probing, tombstones) of
   64-bit keys with 64-bit multiplicative (Fibonacci) hashing: inserts,
   lookups that hit and miss, deletions; prints the counts and a value sum. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define LOG2 20
#define CAP (1u << LOG2)
#define EMPTY 0
#define TOMB 1

static uint64_t keys[CAP];
static uint64_t vals[CAP];

static inline uint32_t slot(uint64_t k) { return (uint32_t)((k * 0x9e3779b97f4a7c15ull) >> (64 - LOG2)); }

static int insert(uint64_t k, uint64_t v) {
  uint32_t i = slot(k), tomb = CAP;
  for (;;) {
    uint64_t c = keys[i];
    if (c == k) { vals[i] += v; return 0; }
    if (c == EMPTY) break;
    if (c == TOMB && tomb == CAP) tomb = i;
    i = (i + 1) & (CAP - 1);
  }
  if (tomb != CAP) i = tomb;
  keys[i] = k;
  vals[i] = v;
  return 1;
}

static uint64_t *lookup(uint64_t k) {
  for (uint32_t i = slot(k);; i = (i + 1) & (CAP - 1)) {
    uint64_t c = keys[i];
    if (c == k) return &vals[i];
    if (c == EMPTY) return NULL;
  }
}

static int erase(uint64_t k) {
  uint64_t *v = lookup(k);
  if (!v) return 0;
  keys[v - vals] = TOMB;
  return 1;
}

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint64_t next(void) {
  rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
  return rng;
}

int main(void) {
  long inserted = 0, hits = 0, erased = 0;
  uint64_t sum = 0;
  for (int round = 0; round < 4; round++) {
    /* A fresh table each round; at most 500000 keys plus tombstones in
       2^20 slots, so probing always reaches an empty slot. Keys come from
       a universe of 10^6, so inserts often find their key already there,
       and lookups of random keys from a twice larger universe often miss. */
    for (uint32_t i = 0; i < CAP; i++) keys[i] = EMPTY;
    for (int i = 0; i < 500000; i++) {
      uint64_t k = (next() % 1000000) * 8 + 2;
      inserted += insert(k, (uint64_t)i);
    }
    for (int i = 0; i < 200000; i++) erased += erase((next() % 1000000) * 8 + 2);
    for (int i = 0; i < 3000000; i++) {
      uint64_t k = (next() % 2000000) * 8 + 2;
      uint64_t *v = lookup(k);
      if (v) { hits++; sum += *v; }
    }
    long used = 0;
    for (uint32_t i = 0; i < CAP; i++) used += keys[i] > TOMB;
    sum += (uint64_t)used;
  }
  printf("hashtab %ld %ld %ld %llu\n", inserted, hits, erased, (unsigned long long)sum);
  return 0;
}
