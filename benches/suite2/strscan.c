/* strscan: byte scanning over generated text: a tokenizer that counts
   lines, words and digits byte by byte, a naive substring search, and
   case-folded word hashing (the inner loops of wc, grep and a lexer);
   prints the counts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define SIZE (4u << 20)
#define REPS 24

static const char *const words[] = {"the", "quick", "brown", "fox", "Jumps", "over", "LAZY",
                                    "dog", "needle", "haystack", "x42", "2026", "wasm"};

static long find_all(const char *text, long n, const char *pat, long m) {
  long count = 0;
  for (long i = 0; i + m <= n; i++) {
    if (text[i] != pat[0]) continue;
    long j = 1;
    while (j < m && text[i + j] == pat[j]) j++;
    count += j == m;
  }
  return count;
}

int main(void) {
  char *text = malloc(SIZE + 1);
  if (!text) return 1;
  uint32_t s = 1;
  long n = 0;
  while (n < SIZE - 16) {
    s = s * 1103515245u + 12345u;
    const char *w = words[(s >> 16) % 13];
    while (*w && n < SIZE - 16) text[n++] = *w++;
    text[n++] = ((s >> 8) & 15) == 0 ? '\n' : ((s >> 8) & 7) == 1 ? ',' : ' ';
  }
  text[n] = 0;
  long lines = 0, wordc = 0, digits = 0, hits = 0;
  uint32_t hsum = 0;
  for (int r = 0; r < REPS; r++) {
    text[r * 101] = 'n';
    int inword = 0;
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
      unsigned c = *p;
      lines += c == '\n';
      digits += c - '0' < 10u;
      int alpha = (c | 32) - 'a' < 26u || c - '0' < 10u;
      if (alpha) {
        h = (h ^ (c | 32)) * 16777619u;
        wordc += !inword;
      } else if (inword) {
        hsum += h;
        h = 2166136261u;
      }
      inword = alpha;
    }
    hits += find_all(text, n, "needle haystack", 15) + find_all(text, n, "over LAZY dog", 13);
  }
  printf("strscan %ld %ld %ld %ld %u\n", lines, wordc, digits, hits, hsum);
  free(text);
  return 0;
}
