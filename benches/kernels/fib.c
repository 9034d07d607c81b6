/* fib: doubly recursive Fibonacci plus a bounded Ackermann, exercising
   calls and returns; prints both results. */
#include <stdio.h>

#define FIB_N 40

__attribute__((noinline)) static unsigned fib(unsigned n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

__attribute__((noinline)) static unsigned ack(unsigned m, unsigned n) {
  while (m != 0) {
    if (n == 0) n = 1;
    else n = ack(m, n - 1);
    m--;
  }
  return n + 1;
}

int main(void) {
  volatile unsigned n = FIB_N;
  unsigned f = fib(n);
  unsigned a = 0;
  for (unsigned i = 0; i < 30; i++) a += ack(2, 1000 + i);
  a += ack(3, 8);
  printf("fib %u ack %u\n", f, a);
  return 0;
}
