// Counts the heap allocations a process makes, preloaded by Benchmarks/allocations: every malloc,
// calloc, realloc (a resize counts as one) and aligned allocation is counted, then passed on to glibc. At exit the count is
// written to the file named by UVNET_ALLOCATIONS_OUT. A count, unlike a time, is the same on a busy
// machine as on an idle one.
//
//     cc -O2 -shared -fPIC -o count-allocations.so count-allocations.c
//     UVNET_ALLOCATIONS_OUT=/tmp/n LD_PRELOAD=./count-allocations.so program
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// glibc's own entry points: calling them, not dlsym(RTLD_NEXT), needs no allocation to start.
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static unsigned long allocations;

static inline void counted(void) { __atomic_fetch_add(&allocations, 1, __ATOMIC_RELAXED); }

void *malloc(size_t size) { counted(); return __libc_malloc(size); }
void *calloc(size_t count, size_t size) { counted(); return __libc_calloc(count, size); }
void *realloc(void *pointer, size_t size) { counted(); return __libc_realloc(pointer, size); }
void *memalign(size_t alignment, size_t size) { counted(); return __libc_memalign(alignment, size); }
void *valloc(size_t size) { counted(); return __libc_memalign((size_t)sysconf(_SC_PAGESIZE), size); }

static inline int is_power_of_two(size_t n) { return n != 0 && (n & (n - 1)) == 0; }

void *aligned_alloc(size_t alignment, size_t size) {
    if (!is_power_of_two(alignment)) { errno = EINVAL; return NULL; }
    counted();
    return __libc_memalign(alignment, size);
}

int posix_memalign(void **result, size_t alignment, size_t size) {
    if (!is_power_of_two(alignment) || alignment % sizeof(void *) != 0) return EINVAL;
    counted();
    void *pointer = __libc_memalign(alignment, size);
    if (pointer == NULL) return ENOMEM;
    *result = pointer;
    return 0;
}

__attribute__((destructor)) static void report(void) {
    const char *path = getenv("UVNET_ALLOCATIONS_OUT");
    if (path == NULL) return;
    char line[32];
    int length = snprintf(line, sizeof line, "%lu\n", __atomic_load_n(&allocations, __ATOMIC_RELAXED));
    int descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (descriptor < 0) return;
    if (write(descriptor, line, (size_t)length) != length) perror("count-allocations");
    close(descriptor);
}
