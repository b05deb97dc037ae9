#ifndef HERD_MALLOC_H
#define HERD_MALLOC_H

/// Caps glibc's malloc arenas at `arenas` unless MALLOC_ARENA_MAX is set in the environment (the
/// operator's word wins). glibc makes an arena per thread that allocates concurrently, up to eight
/// per core, and each keeps the memory it freed: a long-running process with a few busy threads
/// grows by that, not by what it holds. Returns 1 when the cap was set, 0 otherwise (another libc,
/// or the environment decides).
int herd_limit_malloc_arenas(int arenas);

#endif
