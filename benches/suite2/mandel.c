/* mandel: scalar double-precision escape-time loop (Mandelbrot set) over a
   grid, one point at a time, no SIMD in the source; prints the total
   iteration count and a sum of final magnitudes. */
#include <stdio.h>

#define W 1600
#define H 1100
#define MAXIT 500

int main(void) {
  long iters = 0;
  double mag = 0;
  for (int y = 0; y < H; y++) {
    double ci = (double)y * 2.4 / H - 1.2;
    for (int x = 0; x < W; x++) {
      double cr = (double)x * 3.2 / W - 2.2;
      double zr = 0, zi = 0, zr2 = 0, zi2 = 0;
      int n = 0;
      while (n < MAXIT && zr2 + zi2 <= 4.0) {
        zi = 2.0 * zr * zi + ci;
        zr = zr2 - zi2 + cr;
        zr2 = zr * zr;
        zi2 = zi * zi;
        n++;
      }
      iters += n;
      mag += zr2 + zi2 < 4.0 ? zr2 + zi2 : 4.0;
    }
  }
  printf("mandel %ld %.6f\n", iters, mag);
  return 0;
}
