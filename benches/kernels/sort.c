/* sort: recursive quicksort (median of three) and top-down mergesort of
   generated ints; prints a position-weighted checksum of both results. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define N 3000000

static void quicksort(int32_t *a, long lo, long hi) {
  while (hi - lo > 16) {
    long mid = lo + (hi - lo) / 2;
    int32_t x = a[lo], y = a[mid], z = a[hi];
    int32_t p = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
    long i = lo, j = hi;
    while (i <= j) {
      while (a[i] < p) i++;
      while (a[j] > p) j--;
      if (i <= j) { int32_t t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
    }
    if (j - lo < hi - i) { quicksort(a, lo, j); lo = i; }
    else { quicksort(a, i, hi); hi = j; }
  }
  for (long i = lo + 1; i <= hi; i++) {
    int32_t v = a[i];
    long j = i - 1;
    while (j >= lo && a[j] > v) { a[j + 1] = a[j]; j--; }
    a[j + 1] = v;
  }
}

static void mergesort(int32_t *a, int32_t *tmp, long n) {
  if (n < 2) return;
  long h = n / 2;
  mergesort(a, tmp, h);
  mergesort(a + h, tmp, n - h);
  long i = 0, j = h, k = 0;
  while (i < h && j < n) tmp[k++] = a[i] <= a[j] ? a[i++] : a[j++];
  while (i < h) tmp[k++] = a[i++];
  while (j < n) tmp[k++] = a[j++];
  for (long t = 0; t < n; t++) a[t] = tmp[t];
}

int main(void) {
  int32_t *a = malloc(N * 4), *b = malloc(N * 4), *tmp = malloc(N * 4);
  if (!a || !b || !tmp) return 1;
  uint32_t s = 2463534242u;
  for (long i = 0; i < N; i++) {
    s ^= s << 13; s ^= s >> 17; s ^= s << 5;
    a[i] = (int32_t)s;
    b[i] = (int32_t)(s % 100000u);
  }
  quicksort(a, 0, N - 1);
  mergesort(b, tmp, N);
  uint64_t sum = 0;
  for (long i = 0; i < N; i++) {
    if (i && (a[i - 1] > a[i] || b[i - 1] > b[i])) { printf("sort: not sorted\n"); return 1; }
    sum += (uint64_t)(uint32_t)a[i] * (uint64_t)(i + 1) + (uint64_t)b[i] * 31u;
  }
  printf("sort %llu\n", (unsigned long long)sum);
  free(a); free(b); free(tmp);
  return 0;
}
