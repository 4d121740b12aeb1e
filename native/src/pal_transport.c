/* Transport helpers pjsip declares inline. */
#include <pjsip.h>
#include "pjsharp.h"

PJSHARP_EXPORT void pjsharp_tls_setting_default(pjsip_tls_setting *setting)
{
    pjsip_tls_setting_default(setting);
}
