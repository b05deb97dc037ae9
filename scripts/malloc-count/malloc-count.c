// Counts heap allocations of a process: LD_PRELOAD it, and at exit it prints
// "malloc-count: PROGRAM N allocations, B bytes" to stderr. For benchmarks only
// (scripts/bench-allocations.sh): valgrind's memcheck crashes on Swift 6.3 binaries on this machine,
// and callgrind counts instructions, not allocations. Each call is forwarded to the next definition
// (RTLD_NEXT), so processes the benchmark starts (redis-server brings jemalloc) keep their own allocator.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_ulong allocations;
static atomic_ulong bytes;

static void *(*next_malloc)(size_t);
static void *(*next_calloc)(size_t, size_t);
static void *(*next_realloc)(void *, size_t);
static void (*next_free)(void *);
static int (*next_posix_memalign)(void **, size_t, size_t);
static void *(*next_aligned_alloc)(size_t, size_t);
static void *(*next_memalign)(size_t, size_t);

// dlsym may calloc before the real calloc is known: serve that from a small static arena.
static char bootstrap[4096];
static size_t bootstrap_used;
static int resolving;

static void resolve(void) {
    if (next_malloc || resolving) return;
    resolving = 1;
    next_calloc = dlsym(RTLD_NEXT, "calloc");
    next_malloc = dlsym(RTLD_NEXT, "malloc");
    next_realloc = dlsym(RTLD_NEXT, "realloc");
    next_free = dlsym(RTLD_NEXT, "free");
    next_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    next_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
    next_memalign = dlsym(RTLD_NEXT, "memalign");
    resolving = 0;
}

static void count(size_t size) {
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&bytes, size, memory_order_relaxed);
}

static int from_bootstrap(void *p) { return (char *)p >= bootstrap && (char *)p < bootstrap + sizeof bootstrap; }

void *malloc(size_t size) {
    resolve();
    count(size);
    return next_malloc(size);
}

void *calloc(size_t n, size_t size) {
    if (!next_calloc) {
        resolve();
        if (!next_calloc) {  // inside dlsym
            size_t total = (n * size + 15) & ~(size_t)15;
            if (bootstrap_used + total > sizeof bootstrap) return NULL;
            void *p = bootstrap + bootstrap_used;
            bootstrap_used += total;
            return p;  // static storage is already zero
        }
    }
    count(n * size);
    return next_calloc(n, size);
}

void *realloc(void *p, size_t size) {
    resolve();
    count(size);
    if (from_bootstrap(p)) {
        void *q = next_malloc(size);
        if (q) memcpy(q, p, size < sizeof bootstrap ? size : sizeof bootstrap);
        return q;
    }
    return next_realloc(p, size);
}

void free(void *p) {
    if (!p || from_bootstrap(p)) return;
    resolve();
    next_free(p);
}

int posix_memalign(void **out, size_t alignment, size_t size) {
    resolve();
    count(size);
    return next_posix_memalign(out, alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    resolve();
    count(size);
    return next_aligned_alloc(alignment, size);
}

void *memalign(size_t alignment, size_t size) {
    resolve();
    count(size);
    return next_memalign(alignment, size);
}

__attribute__((destructor)) static void report(void) {
    char line[256];
    int n = snprintf(line, sizeof line, "malloc-count: %s %lu allocations, %lu bytes\n",
                     program_invocation_short_name, atomic_load(&allocations), atomic_load(&bytes));
    if (n > 0) write(2, line, (size_t)n);
}
