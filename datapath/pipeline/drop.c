#include "drop.h"

static const char *const drop_names[] = {
#define VSW_DROP_NAME(ENUM, NAME, DOC) [VSW_DROP_##ENUM] = NAME,
    VSW_DROP_REASONS(VSW_DROP_NAME)
#undef VSW_DROP_NAME
};

static const char *const drop_docs[] = {
#define VSW_DROP_DOC(ENUM, NAME, DOC) [VSW_DROP_##ENUM] = DOC,
    VSW_DROP_REASONS(VSW_DROP_DOC)
#undef VSW_DROP_DOC
};

const char *
vsw_drop_reason_name(enum vsw_drop_reason reason)
{
    return (unsigned)reason < VSW_DROP_N_REASONS ? drop_names[reason]
                                                 : "unknown";
}

const char *
vsw_drop_reason_doc(enum vsw_drop_reason reason)
{
    return (unsigned)reason < VSW_DROP_N_REASONS ? drop_docs[reason] : "";
}
