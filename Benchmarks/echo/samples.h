/* What the load clients (pingpong, udp-pingpong, tls/tls-pingpong, tls/tls-handshakes) share: the
 * pattern every message is cut from, and the latency samples with the one-line report. Header-only, and
 * static inline so that a client need not use all of it: each client is one file plus this and run-window.h. */
#ifndef ECHO_SAMPLES_H
#define ECHO_SAMPLES_H

#include <uv.h>
#include <stdio.h>
#include <stdlib.h>

/* Every message is a window of one pattern table, at an offset that changes with the connection and
 * the message number: sending is a pointer, checking is memcmp, so a client stays cheap next to the
 * server it measures. The pattern's period (64 KiB) catches dropped, repeated and reordered bytes. */
static inline unsigned char *make_pattern(size_t message_size) {
    unsigned char *pattern = malloc(message_size + 4096);
    for (size_t j = 0; j < message_size + 4096; j++) pattern[j] = (unsigned char)(j * 31 + (j >> 8) * 7);
    return pattern;
}

static inline size_t pattern_offset(unsigned long sequence, unsigned id) {
    return (sequence * 7 + id * 131) % 4096;
}

static uint64_t *latencies;
static size_t latency_count, latency_capacity;

static inline void record_latency(uint64_t nanoseconds) {
    if (latency_count == latency_capacity) {
        latency_capacity = latency_capacity ? latency_capacity * 2 : 1 << 20;
        latencies = realloc(latencies, latency_capacity * sizeof *latencies);
    }
    latencies[latency_count++] = nanoseconds;
}

static inline int compare_samples(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The one line the comparison scripts read: field 2 is messages per second. */
static inline void report(unsigned long messages, size_t message_size, double elapsed, unsigned long errors,
                          unsigned long mismatches) {
    qsort(latencies, latency_count, sizeof *latencies, compare_samples);
    double p50 = latency_count ? latencies[latency_count / 2] / 1e3 : 0;
    double p99 = latency_count ? latencies[latency_count * 99 / 100] / 1e3 : 0;
    printf("msgs/s %.0f MiB/s %.1f p50_us %.1f p99_us %.1f errors %lu mismatches %lu\n", messages / elapsed,
           messages * (double)message_size / elapsed / (1 << 20), p50, p99, errors, mismatches);
}

#endif
