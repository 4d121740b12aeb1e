/* Thread registration with pjlib. pj_thread_desc is an array of C long, whose
 * size differs between platforms; allocating it here keeps managed code free of it. */
#include <stdlib.h>
#include <pjlib.h>
#include "pjsharp.h"

/* Registers the calling thread unless it already is. pjlib keeps a pointer to
 * the descriptor for the thread's life, so it is deliberately never freed. */
PJSHARP_EXPORT pj_status_t pjsharp_thread_register(const char *name)
{
    if (pj_thread_is_registered())
        return PJ_SUCCESS;
    pj_thread_desc *descriptor = (pj_thread_desc *)calloc(1, sizeof(pj_thread_desc));
    if (!descriptor)
        return PJ_ENOMEM;
    pj_thread_t *thread = NULL;
    pj_status_t status = pj_thread_register(name, *descriptor, &thread);
    if (status != PJ_SUCCESS)
        free(descriptor);
    return status;
}
