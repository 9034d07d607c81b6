/* hello: whole-process start-up benchmark (not a kernel). */
#include <stdio.h>
int main(void) { printf("hello, world\n"); return 0; }
