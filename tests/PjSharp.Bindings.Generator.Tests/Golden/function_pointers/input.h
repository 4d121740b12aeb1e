/* Function pointers become delegate* unmanaged[Cdecl]<...>; typedefs are expanded where used. */
typedef struct event event;
typedef int (*event_cb)(event *e, void *user);
typedef void callback_fn(const char *text, int len);

struct event
{
    int id;
    event_cb on_event;
    callback_fn *on_text;
    void (*on_done)(void);
    struct event *(*next)(struct event *current, unsigned long long when);
};

int register_callback(event_cb cb, void *user);
void set_logger(void (*log)(int level, const char *data, int len));
event_cb get_callback(void);
