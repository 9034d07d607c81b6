/* matmul_ijk: the naive triple-loop matrix multiply, i-j-k order with a
   scalar dot product down a column of B (strided), double precision;
   prints a sum of the result. Distinct from matmul.c, whose i-k-j order
   vectorises along rows. */
#include <stdio.h>

#define N 320
#define REPS 15

static double a[N][N], b[N][N], c[N][N];

int main(void) {
  unsigned s = 777;
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      s = s * 1103515245u + 12345u;
      a[i][j] = (double)((s >> 16) & 1023) / 512.0 - 1.0;
      s = s * 1103515245u + 12345u;
      b[i][j] = (double)((s >> 16) & 1023) / 512.0 - 1.0;
    }
  double total = 0;
  for (int r = 0; r < REPS; r++) {
    for (int i = 0; i < N; i++)
      for (int j = 0; j < N; j++) {
        double sum = 0;
        for (int k = 0; k < N; k++) sum += a[i][k] * b[k][j];
        c[i][j] = sum;
      }
    for (int i = 0; i < N; i++) total += c[i][(i * 7 + r) % N];
    b[r][r] += 0.5;
  }
  printf("matmul_ijk %.6f\n", total);
  return 0;
}
