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
 *
 * Metamorphic oracle (ROBUSTNESS.md, the 2020 Open vSwitch padding CVE):
 * an IP packet whose length fields fit the frame is parsed again with
 * Ethernet padding appended (up to 300 bytes, taken from the input so the
 * padding itself varies); the key must be the same but for the PADDED
 * flag.
 *
 * fuzz-options: -max_len=9018
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

/* Bytes of padding tried after the packet; ROBUSTNESS.md's case. */
#define MAX_PADDING 300

static void
check_padding_ignored(const uint8_t *data, size_t size,
                      const struct vsw_flow_key *key)
{
    const uint32_t unreliable =
        VSW_FLOW_F_L3_TRUNCATED | VSW_FLOW_F_L3_MALFORMED |
        VSW_FLOW_F_L3_CLIPPED | VSW_FLOW_F_TOO_MANY_VLANS;
    struct vsw_flow_key padded_key, expected;
    size_t padding, padded_len;
    uint8_t *padded;

    if ((!vsw_flow_is_ipv4(key) && !vsw_flow_is_ipv6(key)) ||
        (key->flags & unreliable) || !key->l3_end) {
        return;
    }
    padding = 1 + (size ? data[size - 1] : 0) % MAX_PADDING;
    padded_len = size + padding;
    padded = malloc(padded_len);
    if (!padded) {
        return;
    }
    memcpy(padded, data, size);
    for (size_t i = 0; i < padding; i++) {
        padded[size + i] = data[i % size] ^ (uint8_t)i;
    }
    if (vsw_flow_extract(padded, padded_len, &padded_key)) {
        abort();
    }
    expected = *key;
    expected.flags |= VSW_FLOW_F_PADDED;
    if (memcmp(&expected, &padded_key, sizeof expected)) {
        abort(); /* the padding changed what the parser saw */
    }
    free(padded);
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
    if (!error) {
        check_padding_ignored(frame, size, &key);
    }
    vsw_flow_format(&key, text, sizeof text);
    if (strlen(text) >= sizeof text) {
        abort();
    }
    free(frame);
    return 0;
}
