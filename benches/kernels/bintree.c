/* bintree: allocation-heavy binary trees (binary-trees benchmark shape):
   many small malloc/free nodes; prints total node checks. */
#include <stdio.h>
#include <stdlib.h>

#define MAX_DEPTH 17

struct node { struct node *l, *r; };

static struct node *make(int d) {
  struct node *n = malloc(sizeof *n);
  if (!n) { printf("bintree: out of memory\n"); exit(1); }
  if (d > 0) { n->l = make(d - 1); n->r = make(d - 1); }
  else { n->l = n->r = NULL; }
  return n;
}

static long check(const struct node *n) {
  return n->l ? 1 + check(n->l) + check(n->r) : 1;
}

static void release(struct node *n) {
  if (n->l) { release(n->l); release(n->r); }
  free(n);
}

int main(void) {
  struct node *longlived = make(MAX_DEPTH);
  long total = 0;
  for (int d = 4; d <= MAX_DEPTH; d += 2) {
    int iters = 1 << (MAX_DEPTH - d + 4);
    for (int i = 0; i < iters; i++) {
      struct node *t = make(d);
      total += check(t);
      release(t);
    }
  }
  total += check(longlived);
  release(longlived);
  printf("bintree %ld\n", total);
  return 0;
}
