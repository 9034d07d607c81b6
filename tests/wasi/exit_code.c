/* Exit status: exit(42) is proc_exit(42), which must be wasmo's status. */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    printf("exiting with 42\n");
    exit(42);
}
