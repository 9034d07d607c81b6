/* matmul: dense double-precision matrix multiply (i-k-j loop order),
   repeated; prints a sum of the result as the checksum. */
#include <stdio.h>
#include <stdlib.h>

#define N 384
#define REPS 40

static double a[N * N], b[N * N], c[N * N];

int main(void) {
  unsigned s = 12345;
  for (int i = 0; i < N * N; i++) {
    s = s * 1103515245u + 12345u;
    a[i] = (double)((s >> 16) & 1023) / 512.0 - 1.0;
    s = s * 1103515245u + 12345u;
    b[i] = (double)((s >> 16) & 1023) / 512.0 - 1.0;
  }
  double total = 0;
  for (int r = 0; r < REPS; r++) {
    for (int i = 0; i < N * N; i++) c[i] = 0;
    for (int i = 0; i < N; i++)
      for (int k = 0; k < N; k++) {
        double aik = a[i * N + k];
        for (int j = 0; j < N; j++) c[i * N + j] += aik * b[k * N + j];
      }
    for (int i = 0; i < N * N; i += 7) total += c[i];
    a[r] += 1.0; /* make each repetition different */
  }
  printf("matmul %.6f\n", total);
  return 0;
}
