/* pjsip modules whose callbacks carry a context.
 *
 * pjsip calls a module's callbacks without telling them which module they belong
 * to, so every managed service gets a slot here: a pjsip_module whose callbacks
 * are this slot's trampolines, which pass the slot's context (a GCHandle) to one
 * managed dispatcher per callback kind. */
#include <string.h>
#include <pjsip.h>
#include "pjsharp.h"

#define PJSHARP_MAX_MODULES 32
#define PJSHARP_MODULE_NAME_MAX 64

typedef struct pjsharp_module_dispatch {
    pj_bool_t (*on_rx_request)(void *context, pjsip_rx_data *rdata);
    pj_bool_t (*on_rx_response)(void *context, pjsip_rx_data *rdata);
    pj_status_t (*on_tx_request)(void *context, pjsip_tx_data *tdata);
    pj_status_t (*on_tx_response)(void *context, pjsip_tx_data *tdata);
    void (*on_tsx_state)(void *context, pjsip_transaction *tsx, pjsip_event *event);
} pjsharp_module_dispatch;

enum {
    PJSHARP_MODULE_RX_REQUEST = 1,
    PJSHARP_MODULE_RX_RESPONSE = 2,
    PJSHARP_MODULE_TX_REQUEST = 4,
    PJSHARP_MODULE_TX_RESPONSE = 8,
    PJSHARP_MODULE_TSX_STATE = 16,
};

typedef struct module_slot {
    pjsip_module module;
    void *context;
    int in_use;
    char name[PJSHARP_MODULE_NAME_MAX];
} module_slot;

static pjsharp_module_dispatch dispatch;
static module_slot slots[PJSHARP_MAX_MODULES];

#define SLOT_TRAMPOLINES(n) \
    static pj_bool_t rx_request_##n(pjsip_rx_data *rdata) \
    { return dispatch.on_rx_request(slots[n].context, rdata); } \
    static pj_bool_t rx_response_##n(pjsip_rx_data *rdata) \
    { return dispatch.on_rx_response(slots[n].context, rdata); } \
    static pj_status_t tx_request_##n(pjsip_tx_data *tdata) \
    { return dispatch.on_tx_request(slots[n].context, tdata); } \
    static pj_status_t tx_response_##n(pjsip_tx_data *tdata) \
    { return dispatch.on_tx_response(slots[n].context, tdata); } \
    static void tsx_state_##n(pjsip_transaction *tsx, pjsip_event *event) \
    { dispatch.on_tsx_state(slots[n].context, tsx, event); }

SLOT_TRAMPOLINES(0)  SLOT_TRAMPOLINES(1)  SLOT_TRAMPOLINES(2)  SLOT_TRAMPOLINES(3)
SLOT_TRAMPOLINES(4)  SLOT_TRAMPOLINES(5)  SLOT_TRAMPOLINES(6)  SLOT_TRAMPOLINES(7)
SLOT_TRAMPOLINES(8)  SLOT_TRAMPOLINES(9)  SLOT_TRAMPOLINES(10) SLOT_TRAMPOLINES(11)
SLOT_TRAMPOLINES(12) SLOT_TRAMPOLINES(13) SLOT_TRAMPOLINES(14) SLOT_TRAMPOLINES(15)
SLOT_TRAMPOLINES(16) SLOT_TRAMPOLINES(17) SLOT_TRAMPOLINES(18) SLOT_TRAMPOLINES(19)
SLOT_TRAMPOLINES(20) SLOT_TRAMPOLINES(21) SLOT_TRAMPOLINES(22) SLOT_TRAMPOLINES(23)
SLOT_TRAMPOLINES(24) SLOT_TRAMPOLINES(25) SLOT_TRAMPOLINES(26) SLOT_TRAMPOLINES(27)
SLOT_TRAMPOLINES(28) SLOT_TRAMPOLINES(29) SLOT_TRAMPOLINES(30) SLOT_TRAMPOLINES(31)

typedef struct slot_callbacks {
    pj_bool_t (*rx_request)(pjsip_rx_data *);
    pj_bool_t (*rx_response)(pjsip_rx_data *);
    pj_status_t (*tx_request)(pjsip_tx_data *);
    pj_status_t (*tx_response)(pjsip_tx_data *);
    void (*tsx_state)(pjsip_transaction *, pjsip_event *);
} slot_callbacks;

#define SLOT_ENTRY(n) { rx_request_##n, rx_response_##n, tx_request_##n, tx_response_##n, tsx_state_##n }

static const slot_callbacks slot_table[PJSHARP_MAX_MODULES] = {
    SLOT_ENTRY(0),  SLOT_ENTRY(1),  SLOT_ENTRY(2),  SLOT_ENTRY(3),
    SLOT_ENTRY(4),  SLOT_ENTRY(5),  SLOT_ENTRY(6),  SLOT_ENTRY(7),
    SLOT_ENTRY(8),  SLOT_ENTRY(9),  SLOT_ENTRY(10), SLOT_ENTRY(11),
    SLOT_ENTRY(12), SLOT_ENTRY(13), SLOT_ENTRY(14), SLOT_ENTRY(15),
    SLOT_ENTRY(16), SLOT_ENTRY(17), SLOT_ENTRY(18), SLOT_ENTRY(19),
    SLOT_ENTRY(20), SLOT_ENTRY(21), SLOT_ENTRY(22), SLOT_ENTRY(23),
    SLOT_ENTRY(24), SLOT_ENTRY(25), SLOT_ENTRY(26), SLOT_ENTRY(27),
    SLOT_ENTRY(28), SLOT_ENTRY(29), SLOT_ENTRY(30), SLOT_ENTRY(31),
};

/* Sets the managed dispatchers; call once before creating modules. */
PJSHARP_EXPORT void pjsharp_module_set_dispatch(const pjsharp_module_dispatch *callbacks)
{
    dispatch = *callbacks;
}

PJSHARP_EXPORT int pjsharp_module_capacity(void)
{
    return PJSHARP_MAX_MODULES;
}

/* A module ready for pjsip_endpt_register_module, with the callbacks named in
 * flags; NULL when every slot is taken. Not thread-safe: callers serialise. */
PJSHARP_EXPORT pjsip_module *pjsharp_module_create(const char *name, int priority, void *context, unsigned flags)
{
    for (int i = 0; i < PJSHARP_MAX_MODULES; ++i) {
        module_slot *slot = &slots[i];
        if (slot->in_use)
            continue;
        memset(slot, 0, sizeof(*slot));
        slot->in_use = 1;
        slot->context = context;
        pj_ansi_strxcpy(slot->name, name ? name : "pjsharp-service", sizeof(slot->name));
        slot->module.name = pj_str(slot->name);
        slot->module.id = -1;
        slot->module.priority = priority;
        if (flags & PJSHARP_MODULE_RX_REQUEST) slot->module.on_rx_request = slot_table[i].rx_request;
        if (flags & PJSHARP_MODULE_RX_RESPONSE) slot->module.on_rx_response = slot_table[i].rx_response;
        if (flags & PJSHARP_MODULE_TX_REQUEST) slot->module.on_tx_request = slot_table[i].tx_request;
        if (flags & PJSHARP_MODULE_TX_RESPONSE) slot->module.on_tx_response = slot_table[i].tx_response;
        if (flags & PJSHARP_MODULE_TSX_STATE) slot->module.on_tsx_state = slot_table[i].tsx_state;
        return &slot->module;
    }
    return NULL;
}

/* Frees a module's slot; it must already be unregistered from the endpoint. */
PJSHARP_EXPORT void pjsharp_module_destroy(pjsip_module *module)
{
    for (int i = 0; i < PJSHARP_MAX_MODULES; ++i) {
        if (&slots[i].module == module) {
            slots[i].in_use = 0;
            slots[i].context = NULL;
            return;
        }
    }
}
