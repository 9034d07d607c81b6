/* proc_exit: the status reaches the host; buffered output is flushed by
 * exit() before proc_exit. */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    printf("exiting with 3\n");
    exit(3);
}
