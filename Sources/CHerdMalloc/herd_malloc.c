#include "herd_malloc.h"

#include <stdlib.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

int herd_limit_malloc_arenas(int arenas) {
#if defined(__GLIBC__) && defined(M_ARENA_MAX)
    if (getenv("MALLOC_ARENA_MAX") != NULL) {
        return 0;
    }
    return mallopt(M_ARENA_MAX, arenas) == 1 ? 1 : 0;
#else
    (void)arenas;
    return 0;
#endif
}
