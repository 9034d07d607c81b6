/* random_get: filled, and different each time. */
#include "common.h"
#include <stdlib.h>
#include <unistd.h>

int main(void) {
    unsigned char a[32], b[32];
    report("getentropy a", getentropy(a, sizeof a));
    report("getentropy b", getentropy(b, sizeof b));
    printf("differ: %d\n", memcmp(a, b, sizeof a) != 0);
    int nonzero = 0;
    for (int i = 0; i < 32; i++)
        nonzero |= a[i];
    printf("non-zero: %d\n", nonzero != 0);
    printf("arc4random differs: %d\n", arc4random() != arc4random() || arc4random() != arc4random());
    return 0;
}
