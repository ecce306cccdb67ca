/* One million timers created, started and closed on one loop, in plain libuv: the C half of
 * Benchmarks/timers. Each timer is its own allocation, as each Swift Timer is. Prints nanoseconds. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <uv.h>

static void on_timeout(uv_timer_t *timer) { (void)timer; }
static void on_close(uv_handle_t *handle) { free(handle); }

int main(int argc, char **argv) {
    long count = argc > 1 ? atol(argv[1]) : 1000000;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    uv_timer_t **timers = malloc(sizeof(*timers) * count);
    for (long i = 0; i < count; i++) {
        timers[i] = malloc(sizeof(uv_timer_t));
        uv_timer_init(&loop, timers[i]);
        uv_timer_start(timers[i], on_timeout, 3600 * 1000, 0);
    }
    for (long i = 0; i < count; i++) uv_close((uv_handle_t *)timers[i], on_close);
    free(timers);
    uv_run(&loop, UV_RUN_DEFAULT);
    clock_gettime(CLOCK_MONOTONIC, &end);
    printf("%lld\n", (long long)(end.tv_sec - start.tv_sec) * 1000000000LL + (end.tv_nsec - start.tv_nsec));
    uv_loop_close(&loop);
    return 0;
}
