/*
 * libFuzzer harness for the basic ACLs (datapath/policy/acl.c): up to 16
 * rules from the head of the input, compiled, then the rest of the input
 * as a frame, parsed and classified in both directions.  Build and run
 * with tests/fuzz/build.sh and tests/fuzz/run.sh.
 *
 * Besides memory safety it checks what vsw_acl_classify() promises about
 * any input: each rule it reports is one of the table's, of the direction
 * asked and of the kind its place says (IP, MAC, meter), and the verdict
 * is deny exactly when some judgment denied.
 *
 * fuzz-options: -max_len=9018
 */
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "flow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RULES  16
#define RULE_BYTES 24

/* A rule from 24 input bytes, made valid often enough to compile. */
static void
rule_from_bytes(const uint8_t *b, uint32_t id, struct vsw_acl_rule *rule)
{
    static const uint8_t families[] = {0, 4, 6};

    memset(rule, 0, sizeof *rule);
    rule->id = id;
    rule->action = b[0] % 3;
    rule->direction = b[1] % 2;
    rule->match = b[2] % 4;
    if (rule->match >= VSW_ACL_MATCH_LOCAL_MAC) {
        rule->mac.any = b[3] & 1;
        memcpy(rule->mac.addr, b + 4, VSW_ETH_ALEN);
        return;
    }
    rule->ip.family = families[b[3] % 3];
    if (rule->ip.family == 4) {
        unsigned plen = b[4] % 33;

        rule->ip.plen = (uint8_t)plen;
        rule->ip.addr[10] = rule->ip.addr[11] = 0xff;
        for (unsigned bit = 0; bit < plen; bit++) {
            if (b[8 + bit / 8] & (0x80 >> bit % 8)) {
                rule->ip.addr[12 + bit / 8] |= (uint8_t)(0x80 >> bit % 8);
            }
        }
    } else if (rule->ip.family == 6) {
        unsigned plen = b[4] % 129;

        rule->ip.plen = (uint8_t)plen;
        for (unsigned bit = 0; bit < plen; bit++) {
            if (b[5 + (bit / 8) % 19] & (0x80 >> bit % 8)) {
                rule->ip.addr[bit / 8] |= (uint8_t)(0x80 >> bit % 8);
            }
        }
    }
}

/* The rule of 'rules' with 'id', or NULL. */
static const struct vsw_acl_rule *
find_rule(const struct vsw_acl_rule *rules, size_t n, uint32_t id)
{
    for (size_t i = 0; i < n; i++) {
        if (rules[i].id == id) {
            return &rules[i];
        }
    }
    return NULL;
}

static void
check_reported(const struct vsw_acl_rule *rules, size_t n, uint32_t id,
               uint8_t direction, int kind)
{
    const struct vsw_acl_rule *rule;

    if (id == VSW_ACL_NO_RULE) {
        return;
    }
    rule = find_rule(rules, n, id);
    if (!rule || rule->direction != direction) {
        abort();
    }
    if (kind == 0 && (rule->match > VSW_ACL_MATCH_REMOTE_IP ||
                      rule->action == VSW_ACL_ACTION_METER)) {
        abort(); /* the IP rule that decided */
    }
    if (kind == 1 && (rule->match < VSW_ACL_MATCH_LOCAL_MAC ||
                      rule->action == VSW_ACL_ACTION_METER)) {
        abort(); /* the MAC rule that decided */
    }
    if (kind == 2 && rule->action != VSW_ACL_ACTION_METER) {
        abort(); /* the meter rule */
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vsw_acl_rule rules[MAX_RULES];
    struct vsw_acl_table *table;
    struct vsw_flow_key key;
    size_t n, frame_len;
    uint8_t *frame;
    char err[256];

    if (!size) {
        return 0;
    }
    n = data[0] % (MAX_RULES + 1);
    if (size < 1 + n * RULE_BYTES) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        /* Ids far apart and near the top, as a configuration may have. */
        uint32_t id = i % 2 ? UINT32_MAX - (uint32_t)i : (uint32_t)i + 1;

        rule_from_bytes(data + 1 + i * RULE_BYTES, id, &rules[i]);
    }
    if (vsw_acl_compile(rules, n, &table, err, sizeof err)) {
        return 0;
    }
    if (vsw_acl_n_rules(table) != n) {
        abort();
    }
    /* The frame in a buffer of exactly its size. */
    frame_len = size - 1 - n * RULE_BYTES;
    frame = malloc(frame_len ? frame_len : 1);
    if (!frame) {
        vsw_acl_destroy(table);
        return 0;
    }
    memcpy(frame, data + 1 + n * RULE_BYTES, frame_len);
    vsw_flow_extract(frame, frame_len, &key);
    for (uint8_t direction = 0; direction < 2; direction++) {
        struct vsw_acl_result result;

        vsw_acl_classify(table, direction, &key, &result);
        if (result.deny != (result.denied_by != 0)) {
            abort();
        }
        check_reported(rules, n, result.ip_rule, direction, 0);
        check_reported(rules, n, result.mac_rule, direction, 1);
        check_reported(rules, n, result.meter_rule, direction, 2);
    }
    free(frame);
    vsw_acl_destroy(table);
    return 0;
}
