/* spectral: spectral norm of the infinite matrix A(i,j)=1/((i+j)(i+j+1)/2+i+1)
   by the power method; prints the norm as the checksum. */
#include <math.h>
#include <stdio.h>

#define N 1500
#define ITERS 40

static double A(int i, int j) { return 1.0 / ((i + j) * (i + j + 1) / 2 + i + 1); }

static void mul_av(const double *v, double *av) {
  for (int i = 0; i < N; i++) {
    double s = 0;
    for (int j = 0; j < N; j++) s += A(i, j) * v[j];
    av[i] = s;
  }
}

static void mul_atv(const double *v, double *atv) {
  for (int i = 0; i < N; i++) {
    double s = 0;
    for (int j = 0; j < N; j++) s += A(j, i) * v[j];
    atv[i] = s;
  }
}

static void mul_atav(const double *v, double *out, double *tmp) {
  mul_av(v, tmp);
  mul_atv(tmp, out);
}

static double u[N], v[N], tmp[N];

int main(void) {
  for (int i = 0; i < N; i++) u[i] = 1.0;
  for (int i = 0; i < ITERS; i++) {
    mul_atav(u, v, tmp);
    mul_atav(v, u, tmp);
  }
  double vbv = 0, vv = 0;
  for (int i = 0; i < N; i++) {
    vbv += u[i] * v[i];
    vv += v[i] * v[i];
  }
  printf("spectral %.9f\n", sqrt(vbv / vv));
  return 0;
}
