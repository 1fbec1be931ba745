/*
 * libFuzzer harness for the port guards (datapath/policy/guard.c) on
 * arbitrary frames, with the DHCP, RA and fragment state carried across
 * inputs: one guard state per configuration lives as long as the process,
 * as a port's does in the daemon.  Build and run with tests/fuzz/build.sh
 * and run.sh.
 *
 * Input: 1 byte choosing the port's configuration (below), then the frame,
 * in a heap block of exactly its size.
 *
 * Oracles besides memory safety:
 *   - the verdict is one of guard.h's;
 *   - a port with every guard off and no MAC lets everything pass;
 *   - a frame that is not a fragment gets the same verdict from the
 *     process-wide state as from a fresh one: only fragments (and the
 *     storm limit, not exercised here) depend on what came before;
 *   - with the DHCP or router guard on, once a first fragment was dropped
 *     by the L4 guards, or any fragment for overlapping (RFC 5722), a
 *     later fragment of the same datagram that comes next is dropped too
 *     (the very next input, so that the bounded table cannot have
 *     forgotten it).
 *
 * fuzz-options: -max_len=9018
 */
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "guard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_CONFIGS 4

static struct vsw_guard_config configs[N_CONFIGS];
static struct vsw_guard_state states[N_CONFIGS];

/* The last fragment a configuration's L4 guards dropped, by datagram. */
struct dropped_datagram {
    bool valid;
    uint8_t src[16], dst[16];
    uint32_t frag_id;
    bool ipv6;
};
static struct dropped_datagram last_dropped[N_CONFIGS];

static void
set_ip(struct vsw_guard_ip *ip, const uint8_t *addr, size_t addr_len,
       uint8_t plen)
{
    memset(ip, 0, sizeof *ip);
    if (addr_len == 4) {
        ip->addr[10] = ip->addr[11] = 0xff;
        memcpy(ip->addr + 12, addr, 4);
    } else {
        memcpy(ip->addr, addr, 16);
    }
    ip->plen = plen;
}

/* 0: every guard off; 1: DHCP and router guards; 2: everything on, with
 * a MAC and allowed addresses (those of tests/system/frames.py's VMs and
 * the guard unit tests); 3: as 1 with unknown IPv6 next headers allowed
 * and 802.1p kept. */
static void
init_configs(void)
{
    static const uint8_t mac[VSW_ETH_ALEN] = {0x02, 0, 0, 0, 0, 0x01};
    static const uint8_t ip4[4] = {10, 0, 0, 1};
    static const uint8_t ip4_net[4] = {198, 18, 4, 0};
    static const uint8_t ip6[16] = {0x20, 0x01, 0x0d, 0xb8, [7] = 1};

    configs[1].dhcp_guard = configs[1].router_guard = true;
    configs[2] = configs[1];
    configs[2].has_mac = true;
    memcpy(configs[2].mac, mac, sizeof mac);
    set_ip(&configs[2].ips[0], ip4, 4, 128);
    set_ip(&configs[2].ips[1], ip4_net, 4, 120);
    set_ip(&configs[2].ips[2], ip6, 16, 64);
    configs[2].n_ips = 3;
    configs[3] = configs[1];
    configs[3].ipv6_unknown_nh_allowed = true;
    configs[3].ieee_priority_tag = true;
    for (int i = 0; i < N_CONFIGS; i++) {
        vsw_guard_state_init(&states[i]);
    }
}

static bool
is_l4_guard_drop(enum vsw_guard_verdict verdict)
{
    switch (verdict) {
    case VSW_GUARD_DHCP:
    case VSW_GUARD_DHCPV6:
    case VSW_GUARD_RA:
    case VSW_GUARD_REDIRECT:
    case VSW_GUARD_IPV6_CHAIN:
    case VSW_GUARD_IPV6_UNKNOWN_NH:
    case VSW_GUARD_ND_FRAGMENT:
        return true;
    default:
        return false;
    }
}

static bool
same_datagram(const struct dropped_datagram *d, const struct vsw_flow_key *key)
{
    return d->valid && d->ipv6 == vsw_flow_is_ipv6(key) &&
           d->frag_id == key->frag_id && !memcmp(d->src, key->ip_src, 16) &&
           !memcmp(d->dst, key->ip_dst, 16);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool initialized;
    struct dropped_datagram *dropped;
    enum vsw_guard_verdict verdict;
    struct vsw_guard_state *fresh;
    struct vsw_flow_key key;
    bool fragment, later;
    size_t len;
    uint8_t *frame;
    int which;

    if (!initialized) {
        init_configs();
        initialized = true;
    }
    if (size < 1) {
        return 0;
    }
    which = data[0] % N_CONFIGS;
    len = size - 1;
    frame = malloc(len ? len : 1);
    if (!frame) {
        return 0;
    }
    memcpy(frame, data + 1, len);
    if (vsw_flow_extract(frame, len, &key)) {
        free(frame);
        return 0;
    }

    verdict =
        vsw_guard_check_out(&configs[which], &states[which], &key, frame, len);
    if ((unsigned)verdict >= VSW_GUARD_N_VERDICTS) {
        abort();
    }
    if (which == 0 && verdict != VSW_GUARD_OK) {
        abort(); /* every guard off */
    }

    fragment = (key.flags & VSW_FLOW_F_FRAGMENT) != 0;
    later = fragment && key.frag_offset != 0;
    if (!fragment) {
        fresh = calloc(1, sizeof *fresh);
        if (fresh) {
            vsw_guard_state_init(fresh);
            if (vsw_guard_check_out(&configs[which], fresh, &key, frame,
                                    len) != verdict) {
                abort(); /* a non-fragment depends on earlier frames */
            }
            free(fresh);
        }
    }

    dropped = &last_dropped[which];
    if (which != 0 && later && same_datagram(dropped, &key) &&
        verdict == VSW_GUARD_OK) {
        abort(); /* a later fragment of a dropped datagram passed */
    }
    if (fragment) {
        bool first = !later && !(key.flags & VSW_FLOW_F_ATOMIC_FRAGMENT);

        dropped->valid = verdict == VSW_GUARD_FRAG_OVERLAP ||
                         (first && is_l4_guard_drop(verdict)) ||
                         (same_datagram(dropped, &key) && verdict != 0);
        dropped->ipv6 = vsw_flow_is_ipv6(&key);
        dropped->frag_id = key.frag_id;
        memcpy(dropped->src, key.ip_src, 16);
        memcpy(dropped->dst, key.ip_dst, 16);
    }
    free(frame);
    return 0;
}
