/* levenshtein: dynamic programming, the edit distance of many pairs of
   generated strings with two rolling rows (min of three neighbours per
   cell, data-dependent branches); prints the sum of distances. */
#include <stdint.h>
#include <stdio.h>

#define LEN 2000
#define PAIRS 120

static char sa[LEN + 1], sb[LEN + 1];
static uint32_t row0[LEN + 1], row1[LEN + 1];

static uint32_t distance(const char *a, int n, const char *b, int m) {
  uint32_t *prev = row0, *cur = row1;
  for (int j = 0; j <= m; j++) prev[j] = (uint32_t)j;
  for (int i = 1; i <= n; i++) {
    cur[0] = (uint32_t)i;
    char ca = a[i - 1];
    for (int j = 1; j <= m; j++) {
      uint32_t sub = prev[j - 1] + (ca != b[j - 1]);
      uint32_t del = prev[j] + 1, ins = cur[j - 1] + 1;
      uint32_t best = sub < del ? sub : del;
      cur[j] = best < ins ? best : ins;
    }
    uint32_t *t = prev; prev = cur; cur = t;
  }
  return prev[m];
}

int main(void) {
  uint32_t s = 99;
  uint64_t total = 0;
  for (int p = 0; p < PAIRS; p++) {
    int n = LEN - p * 7, m = LEN - (p * 13) % 300;
    for (int i = 0; i < n; i++) { s = s * 1103515245u + 12345u; sa[i] = (char)('a' + (s >> 16) % 6); }
    /* b is a mutated copy of a, so distances are well below the length. */
    for (int j = 0; j < m; j++) {
      s = s * 1103515245u + 12345u;
      sb[j] = (s >> 16) % 5 == 0 ? (char)('a' + (s >> 20) % 6) : sa[j % n];
    }
    total += distance(sa, n, sb, m) * (uint64_t)(p + 1);
  }
  printf("levenshtein %llu\n", (unsigned long long)total);
  return 0;
}
