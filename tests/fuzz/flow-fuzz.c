/*
 * libFuzzer harness for the frame parser; tests/fuzz/build.sh builds it
 * (into build/fuzz), tests/fuzz/run.sh builds and runs every target:
 *
 *   tests/fuzz/build.sh && build/fuzz/flow-fuzz -max_len=9018
 *
 * The input is copied into a buffer of exactly its size, so ASan reports a
 * read of even one byte past the frame.  Besides memory safety it checks
 * the promises of flow.h that hold for any input, and aborts (which
 * libFuzzer reports as a crash) when one breaks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
key_is_consistent(const struct vsw_flow_key *key, size_t len)
{
    if (key->n_vlans > VSW_FLOW_MAX_VLANS + 1 || key->l3_end > len) {
        return false;
    }
    if (key->l3_end && key->l3_ofs >= key->l3_end) {
        return false;
    }
    if (key->l4_ofs &&
        (key->l4_ofs <= key->l3_ofs || key->l4_ofs + 4 > key->l3_end)) {
        return false;
    }
    if (key->l7_ofs && (!key->l4_ofs || key->l7_ofs <= key->l4_ofs ||
                        key->l7_ofs > key->l3_end)) {
        return false;
    }
    if ((key->flags & VSW_FLOW_F_LATER_FRAGMENT) && key->l4_ofs) {
        return false;
    }
    return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *frame = malloc(size);
    struct vsw_flow_key key, again;
    char text[128];
    int error;

    if (!frame && size) {
        return 0;
    }
    if (size) {
        memcpy(frame, data, size);
    }
    error = vsw_flow_extract(frame, size, &key);
    if (error != (size < VSW_ETH_HLEN ? -EINVAL : 0) ||
        !key_is_consistent(&key, size)) {
        abort();
    }
    if (vsw_flow_extract(frame, size, &again) != error ||
        memcmp(&key, &again, sizeof key)) {
        abort();
    }
    vsw_flow_format(&key, text, sizeof text);
    if (strlen(text) >= sizeof text) {
        abort();
    }
    free(frame);
    return 0;
}
