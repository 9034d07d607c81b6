/* qsortcb: a generic qsort (void pointers, element size, comparison
   callback, as libc's) sorting records by several keys through a function
   pointer, so every comparison is an indirect call. The sort is in this
   file so that native and wasm run the same code, not two libcs. Prints a
   checksum of the order. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 400000
#define REPS 3

struct rec { int32_t group; double score; uint32_t id; char name[12]; };

typedef int (*cmp_fn)(const void *, const void *);

static void swap_bytes(char *a, char *b, size_t size) {
  while (size--) { char t = *a; *a++ = *b; *b++ = t; }
}

static void gsort(void *base, size_t n, size_t size, cmp_fn cmp) {
  char *a = base;
  while (n > 12) {
    char *mid = a + (n / 2) * size, *last = a + (n - 1) * size;
    if (cmp(mid, a) < 0) swap_bytes(mid, a, size);
    if (cmp(last, mid) < 0) {
      swap_bytes(last, mid, size);
      if (cmp(mid, a) < 0) swap_bytes(mid, a, size);
    }
    swap_bytes(mid, a, size); /* pivot to the front */
    size_t i = 1, j = n - 1;
    for (;;) {
      while (cmp(a + i * size, a) < 0) i++;
      while (cmp(a, a + j * size) < 0) j--;
      if (i >= j) break;
      swap_bytes(a + i * size, a + j * size, size);
      i++;
      j--;
    }
    swap_bytes(a, a + j * size, size);
    /* Recurse on the smaller side, loop on the larger. */
    if (j < n - j - 1) {
      gsort(a, j, size, cmp);
      a += (j + 1) * size;
      n -= j + 1;
    } else {
      gsort(a + (j + 1) * size, n - j - 1, size, cmp);
      n = j;
    }
  }
  for (size_t i = 1; i < n; i++)
    for (size_t k = i; k > 0 && cmp(a + k * size, a + (k - 1) * size) < 0; k--)
      swap_bytes(a + k * size, a + (k - 1) * size, size);
}

static int by_id(const void *x, const void *y) {
  uint32_t a = ((const struct rec *)x)->id, b = ((const struct rec *)y)->id;
  return (a > b) - (a < b);
}

static int by_group_score(const void *x, const void *y) {
  const struct rec *a = x, *b = y;
  if (a->group != b->group) return a->group < b->group ? -1 : 1;
  if (a->score != b->score) return a->score < b->score ? 1 : -1;
  return (a->id > b->id) - (a->id < b->id);
}

static int by_name(const void *x, const void *y) {
  int c = strcmp(((const struct rec *)x)->name, ((const struct rec *)y)->name);
  return c ? c : by_id(x, y);
}

int main(void) {
  struct rec *v = malloc(N * sizeof *v);
  if (!v) return 1;
  uint32_t s = 2024;
  for (uint32_t i = 0; i < N; i++) {
    s = s * 1664525u + 1013904223u;
    v[i].group = (int32_t)(s >> 24) % 50;
    v[i].score = (double)(s & 0xffff) / 7.0;
    v[i].id = i * 2654435761u;
    for (int c = 0; c < 11; c++) {
      s = s * 1664525u + 1013904223u;
      v[i].name[c] = c < 3 || (s >> 28) ? (char)('a' + (s >> 20) % 4) : 0;
    }
    v[i].name[11] = 0;
  }
  static const cmp_fn cmps[] = {by_group_score, by_name, by_id};
  uint64_t check = 0;
  for (int r = 0; r < REPS; r++)
    for (int c = 0; c < 3; c++) {
      gsort(v, N, sizeof *v, cmps[c]);
      for (uint32_t i = 0; i < N; i += 97) check = check * 31 + v[i].id;
    }
  printf("qsortcb %llu\n", (unsigned long long)check);
  free(v);
  return 0;
}
