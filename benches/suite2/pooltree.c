/* pooltree: allocation-heavy binary trees over a free-list allocator that
   carves fixed-size nodes out of pools (no malloc per node), built, checked
   and freed by deep recursion; prints the node checks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_DEPTH 18
#define POOL_NODES 4096

struct node { struct node *l, *r; int32_t item; };

struct pool { struct pool *next; struct node nodes[POOL_NODES]; };

static struct pool *pools;
static struct node *free_list;
static long live, peak;

static struct node *node_alloc(void) {
  if (!free_list) {
    struct pool *p = malloc(sizeof *p);
    if (!p) { printf("pooltree: out of memory\n"); exit(1); }
    p->next = pools;
    pools = p;
    /* Thread the new pool onto the free list, lowest address first. */
    for (int i = POOL_NODES - 1; i >= 0; i--) {
      p->nodes[i].l = free_list;
      free_list = &p->nodes[i];
    }
  }
  struct node *n = free_list;
  free_list = n->l;
  if (++live > peak) peak = live;
  return n;
}

static void node_free(struct node *n) {
  n->l = free_list;
  free_list = n;
  live--;
}

static struct node *make(int32_t item, int d) {
  struct node *n = node_alloc();
  n->item = item;
  if (d > 0) {
    n->l = make(2 * item - 1, d - 1);
    n->r = make(2 * item, d - 1);
  } else {
    n->l = n->r = NULL;
  }
  return n;
}

static long check(const struct node *n) {
  if (!n->l) return n->item;
  return n->item + check(n->l) - check(n->r);
}

static void release(struct node *n) {
  if (n->l) { release(n->l); release(n->r); }
  node_free(n);
}

int main(void) {
  struct node *longlived = make(0, MAX_DEPTH);
  long total = 0;
  for (int d = 4; d <= MAX_DEPTH; d += 2) {
    long iters = 1L << (MAX_DEPTH - d + 4);
    for (long i = 1; i <= iters; i++) {
      struct node *a = make((int32_t)i, d), *b = make((int32_t)-i, d);
      total += check(a) + check(b);
      release(a);
      release(b);
    }
  }
  total += check(longlived);
  release(longlived);
  long npools = 0;
  while (pools) { struct pool *p = pools; pools = p->next; free(p); npools++; }
  printf("pooltree %ld peak=%ld pools=%ld live=%ld\n", total, peak, npools, live);
  return 0;
}
