/* The caching pool's memory, for watching leaks: pjlib keeps no running total
 * of what live pools hold (pj_caching_pool.used_size is no longer updated), so
 * the pools in use are walked under the factory's lock, as its own dump does. */
#include <pjlib.h>
#include "pjsharp.h"

/* Fixed-width fields: the managed mirror is five 64-bit integers. */
typedef struct pjsharp_pool_usage {
    unsigned long long pools_in_use;      /* pools created and not yet released */
    unsigned long long used_capacity;     /* bytes their blocks reserve */
    unsigned long long used_bytes;        /* bytes allocated from those blocks */
    unsigned long long cached_capacity;   /* released pools kept for reuse */
    unsigned long long max_cached_capacity;
} pjsharp_pool_usage;

PJSHARP_EXPORT int pjsharp_caching_pool_usage(pj_caching_pool *cp, pjsharp_pool_usage *usage)
{
    if (!cp || !usage)
        return PJ_EINVAL;
    pj_bzero(usage, sizeof(*usage));
    if (cp->lock)
        pj_lock_acquire(cp->lock);
    usage->pools_in_use = cp->used_count;
    usage->cached_capacity = cp->capacity;
    usage->max_cached_capacity = cp->max_capacity;
    for (pj_pool_t *pool = (pj_pool_t *)cp->used_list.next; pool != (void *)&cp->used_list; pool = pool->next) {
        usage->used_capacity += pj_pool_get_capacity(pool);
        usage->used_bytes += pj_pool_get_used_size(pool);
    }
    if (cp->lock)
        pj_lock_release(cp->lock);
    return PJ_SUCCESS;
}
