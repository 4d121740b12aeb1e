/* The pjproject settings this shim and the bindings were compiled with, and
 * probes of what the linked pjproject library was compiled with. */
#include <pjlib.h>
#include <pjsip.h>
#include "pjsharp.h"


#ifdef NDEBUG
#  define PJSHARP_NDEBUG 1
#else
#  define PJSHARP_NDEBUG 0
#endif

typedef struct build_setting { const char *name; long long value; } build_setting;

static const build_setting build_settings[] = {
    { "PJ_VERSION_NUM_MAJOR", PJ_VERSION_NUM_MAJOR },
    { "PJ_VERSION_NUM_MINOR", PJ_VERSION_NUM_MINOR },
    { "PJ_VERSION_NUM_REV", PJ_VERSION_NUM_REV },
    { "NDEBUG", PJSHARP_NDEBUG },
    { "PJ_DEBUG", PJ_DEBUG },
    { "PJ_HAS_IPV6", PJ_HAS_IPV6 },
    { "PJ_HAS_SSL_SOCK", PJ_HAS_SSL_SOCK },
    { "PJ_IOQUEUE_MAX_HANDLES", PJ_IOQUEUE_MAX_HANDLES },
    { "PJSIP_MAX_TSX_COUNT", PJSIP_MAX_TSX_COUNT },
    { "PJSIP_MAX_DIALOG_COUNT", PJSIP_MAX_DIALOG_COUNT },
    { "PJSIP_UDP_SO_RCVBUF_SIZE", PJSIP_UDP_SO_RCVBUF_SIZE },
    { "PJSIP_UDP_SO_SNDBUF_SIZE", PJSIP_UDP_SO_SNDBUF_SIZE },
    { "PJSIP_MAX_PKT_LEN", PJSIP_MAX_PKT_LEN },
};

PJSHARP_EXPORT int pjsharp_build_setting_count(void)
{
    return (int)(sizeof(build_settings) / sizeof(build_settings[0]));
}

/* Name and value of setting index as the shim's headers saw it; 0 when out of range. */
PJSHARP_EXPORT int pjsharp_build_setting_get(int index, const char **name, long long *value)
{
    if (index < 0 || index >= pjsharp_build_setting_count() || !name || !value)
        return 0;
    *name = build_settings[index].name;
    *value = build_settings[index].value;
    return 1;
}

PJSHARP_EXPORT const char *pjsharp_minimum_pjproject_version(void)
{
    return PJSHARP_PJPROJECT_MINIMUM_VERSION;
}
