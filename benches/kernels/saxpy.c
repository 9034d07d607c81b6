/* saxpy: loops clang auto-vectorises: saxpy and a float dot product over
   1 Mi-element arrays, repeated; prints the dot products' sum. */
#include <stdio.h>

#define N (1 << 20)
#define REPS 1000

static float x[N], y[N];

__attribute__((noinline)) static void saxpy(float a, const float *restrict xs, float *restrict ys, int n) {
  for (int i = 0; i < n; i++) ys[i] = a * xs[i] + ys[i];
}

__attribute__((noinline)) static int idot(const int *restrict a, const int *restrict b, int n) {
  int s = 0;
  for (int i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

static int ia[N], ib[N];

int main(void) {
  for (int i = 0; i < N; i++) {
    x[i] = (float)(i % 1000) * 0.001f;
    y[i] = (float)(i % 7);
    ia[i] = i & 255;
    ib[i] = (i * 7) & 1023;
  }
  long long isum = 0;
  for (int r = 0; r < REPS; r++) {
    saxpy(0.5f + (float)r * 1e-4f, x, y, N);
    isum += idot(ia, ib, N);
    ia[r] += 1;
  }
  double ys = 0;
  for (int i = 0; i < N; i += 64) ys += y[i];
  printf("saxpy %.3f %lld\n", ys, isum);
  return 0;
}
