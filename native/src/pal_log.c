/* pjlib logging: a callback for pjlib's output and a non-varargs writer. */
#include <stdarg.h>
#include <pjlib.h>
#include "pjsharp.h"

typedef void (*pjsharp_log_callback)(int level, const char *data, int len);

static pjsharp_log_callback log_callback;

static void forward_log(int level, const char *data, int len)
{
    pjsharp_log_callback callback = log_callback;
    if (callback)
        callback(level, data, len);
}

/* Routes pjlib's formatted log lines to callback; NULL restores pjlib's writer. */
PJSHARP_EXPORT void pjsharp_log_set_callback(pjsharp_log_callback callback)
{
    log_callback = callback;
    pj_log_set_log_func(callback ? &forward_log : &pj_log_write);
}

static void log_formatted(const char *sender, int level, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    pj_log(sender, level, format, args);
    va_end(args);
}

/* pj_log is varargs: P/Invoke cannot call it, so managed code writes through here. */
PJSHARP_EXPORT void pjsharp_log_write(int level, const char *sender, const char *message)
{
    if (level <= pj_log_get_level())
        log_formatted(sender, level, "%s", message);
}
