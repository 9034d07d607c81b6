/* Clocks (monotonic increases, realtime plausible, CPU time) and sleeping
 * through poll_oneoff. */
#include "common.h"
#include <poll.h>
#include <time.h>

static long long ns(struct timespec t) {
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(void) {
    struct timespec a, b, r;
    report("monotonic", clock_gettime(CLOCK_MONOTONIC, &a));
    struct timespec nap = {0, 20 * 1000 * 1000};
    report("nanosleep 20ms", nanosleep(&nap, NULL));
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("slept at least 20ms: %d\n", ns(b) - ns(a) >= 20000000LL);
    printf("slept less than 5s: %d\n", ns(b) - ns(a) < 5000000000LL);
    report("realtime", clock_gettime(CLOCK_REALTIME, &r));
    printf("realtime after 2020: %d\n", r.tv_sec > 1577836800LL);
    printf("time() agrees: %d\n", time(NULL) - r.tv_sec < 5);
    report("getres monotonic", clock_getres(CLOCK_MONOTONIC, &r));
    printf("resolution positive: %d\n", ns(r) > 0);
    report("process cputime", clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a));
    report("thread cputime", clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a));
    clock_gettime(CLOCK_MONOTONIC, &a);
    report("poll timeout 30ms", poll(NULL, 0, 30));
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("poll waited: %d\n", ns(b) - ns(a) >= 30000000LL);
    return 0;
}
