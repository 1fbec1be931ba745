#include "vlan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const vsw_vlan_mode_names[] = {
    [VSW_VLAN_MODE_UNTAGGED] = "untagged",
    [VSW_VLAN_MODE_ACCESS] = "access",
    [VSW_VLAN_MODE_TRUNK] = "trunk",
    [VSW_VLAN_MODE_PVLAN_ISOLATED] = "pvlan-isolated",
    [VSW_VLAN_MODE_PVLAN_COMMUNITY] = "pvlan-community",
    [VSW_VLAN_MODE_PVLAN_PROMISCUOUS] = "pvlan-promiscuous",
    NULL,
};

void
vsw_vlan_config_init(struct vsw_vlan_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->mode = VSW_VLAN_MODE_UNTAGGED;
}

static bool
is_vlan_tpid(uint16_t tpid)
{
    return tpid == VSW_ETH_TYPE_VLAN || tpid == VSW_ETH_TYPE_QINQ ||
           tpid == 0x9100;
}

bool
vsw_vlan_is_pvlan(const struct vsw_vlan_config *cfg)
{
    return cfg->mode >= VSW_VLAN_MODE_PVLAN_ISOLATED;
}

/* Places a frame of VLAN 'vid' (from a trunk) in the switch's private
 * VLANs, if 'vid' belongs to one. */
static void
place_in_pvlan(const struct vsw_pvlan_map *map, uint16_t vid,
               struct vsw_vlan_ingress *out)
{
    out->vlan = vid;
    out->tag_vid = vid;
    out->pvlan_role = VSW_PVLAN_NONE;
    if (map && map->primary_of[vid]) {
        out->vlan = map->primary_of[vid];
        out->pvlan_role = map->role_of[vid];
    }
}

int
vsw_vlan_classify(const struct vsw_vlan_config *cfg,
                  const struct vsw_pvlan_map *map,
                  const struct vsw_flow_key *key, struct vsw_vlan_ingress *out)
{
    bool tagged = key->n_vlans > 0;
    uint16_t tci = tagged ? key->vlan_tci[0] : 0;
    uint16_t vid = tci & 0xfff;

    out->pcp = tci >> 13;
    out->tag_len = 0;
    out->pvlan_role = VSW_PVLAN_NONE;

    if (!tagged && is_vlan_tpid(key->eth_type)) {
        /* A tag type with no room for the tag. */
        return VSW_DROP_RUNT;
    }

    if (cfg->mode != VSW_VLAN_MODE_TRUNK) {
        /* Only a lone priority tag is acceptable here: a VLAN id, or a
         * second tag behind a priority tag, is a double-tagging attempt
         * or a misconfigured peer. */
        if (tagged && (vid != 0 || key->n_vlans > 1)) {
            return VSW_DROP_VLAN_TAGGED;
        }
        out->tag_len = tagged ? 4 : 0;
        switch (cfg->mode) {
        case VSW_VLAN_MODE_ACCESS:
            out->vlan = out->tag_vid = cfg->vid;
            break;
        case VSW_VLAN_MODE_PVLAN_ISOLATED:
        case VSW_VLAN_MODE_PVLAN_COMMUNITY:
            out->vlan = cfg->pvlan_primary;
            out->tag_vid = cfg->pvlan_secondary;
            out->pvlan_role = cfg->mode == VSW_VLAN_MODE_PVLAN_ISOLATED
                                  ? VSW_PVLAN_ISOLATED
                                  : VSW_PVLAN_COMMUNITY;
            break;
        case VSW_VLAN_MODE_PVLAN_PROMISCUOUS:
            out->vlan = out->tag_vid = cfg->pvlan_primary;
            out->pvlan_role = VSW_PVLAN_PROMISCUOUS;
            break;
        default:
            out->vlan = out->tag_vid = 0;
            break;
        }
        return -1;
    }

    /* On a trunk only an 802.1Q tag selects the VLAN; a frame with an
     * S-tag outside is carried whole in the native VLAN. */
    if (!tagged || key->vlan_tpid[0] != VSW_ETH_TYPE_VLAN) {
        place_in_pvlan(map, cfg->native_vid, out);
        out->pcp = 0;
        return -1;
    }
    out->tag_len = 4;
    if (vid == 0) {
        /* A priority-tagged frame belongs to the native VLAN. */
        if (key->n_vlans > 1 && is_vlan_tpid(key->vlan_tpid[1])) {
            return VSW_DROP_VLAN_TAGGED;
        }
        place_in_pvlan(map, cfg->native_vid, out);
        return -1;
    }
    if (vid > VSW_VLAN_MAX || !vsw_vlan_is_member(cfg, vid)) {
        return VSW_DROP_VLAN_NOT_ALLOWED;
    }
    place_in_pvlan(map, vid, out);
    return -1;
}

bool
vsw_vlan_is_member(const struct vsw_vlan_config *cfg, uint16_t vlan)
{
    switch (cfg->mode) {
    case VSW_VLAN_MODE_UNTAGGED:
        return vlan == 0;
    case VSW_VLAN_MODE_ACCESS:
        return vlan == cfg->vid;
    case VSW_VLAN_MODE_TRUNK:
        if (vlan == cfg->native_vid) {
            return true;
        }
        return vlan != 0 && (vsw_vlan_set_is_empty(&cfg->trunks) ||
                             vsw_vlan_set_contains(&cfg->trunks, vlan));
    case VSW_VLAN_MODE_PVLAN_ISOLATED:
    case VSW_VLAN_MODE_PVLAN_COMMUNITY:
    case VSW_VLAN_MODE_PVLAN_PROMISCUOUS:
        return false;
    }
    return false;
}

/* The reachability matrix of FEATURES.md §3 for a frame of 'frame' to a
 * PVLAN port 'cfg' of the same primary. */
static bool
pvlan_reaches(const struct vsw_vlan_config *cfg,
              const struct vsw_vlan_ingress *frame)
{
    bool to_promiscuous =
        cfg->mode == VSW_VLAN_MODE_PVLAN_PROMISCUOUS &&
        vsw_vlan_set_contains(&cfg->pvlan_secondaries, frame->tag_vid);

    switch (frame->pvlan_role) {
    case VSW_PVLAN_PROMISCUOUS:
        return true;
    case VSW_PVLAN_COMMUNITY:
        return to_promiscuous || (cfg->mode == VSW_VLAN_MODE_PVLAN_COMMUNITY &&
                                  cfg->pvlan_secondary == frame->tag_vid);
    case VSW_PVLAN_ISOLATED:
        /* Not even to another isolated port of the same secondary. */
        return to_promiscuous;
    default:
        return false;
    }
}

bool
vsw_vlan_admits(const struct vsw_vlan_config *cfg,
                const struct vsw_vlan_ingress *frame)
{
    if (cfg->mode == VSW_VLAN_MODE_TRUNK) {
        /* The physical network beyond enforces the rest. */
        return vsw_vlan_is_member(cfg, frame->tag_vid);
    }
    if (vsw_vlan_is_pvlan(cfg)) {
        return frame->pvlan_role != VSW_PVLAN_NONE &&
               cfg->pvlan_primary == frame->vlan && pvlan_reaches(cfg, frame);
    }
    return frame->pvlan_role == VSW_PVLAN_NONE &&
           vsw_vlan_is_member(cfg, frame->vlan);
}

bool
vsw_vlan_egress_tagged(const struct vsw_vlan_config *cfg,
                       const struct vsw_vlan_ingress *frame)
{
    return cfg->mode == VSW_VLAN_MODE_TRUNK &&
           frame->tag_vid != cfg->native_vid && frame->tag_vid != 0;
}

void
vsw_vlan_set_add(struct vsw_vlan_set *set, uint16_t vlan)
{
    set->bits[vlan / 64 % 64] |= UINT64_C(1) << (vlan % 64);
}

bool
vsw_vlan_set_contains(const struct vsw_vlan_set *set, uint16_t vlan)
{
    return (set->bits[vlan / 64 % 64] >> (vlan % 64)) & 1;
}

bool
vsw_vlan_set_is_empty(const struct vsw_vlan_set *set)
{
    for (size_t i = 0; i < 64; i++) {
        if (set->bits[i]) {
            return false;
        }
    }
    return true;
}

/* Parses a decimal VLAN id at '*s', advancing it.  Returns the id or -1. */
static int
parse_vid(const char **s)
{
    char *end;
    long v;

    if (**s < '0' || **s > '9') {
        return -1;
    }
    errno = 0;
    v = strtol(*s, &end, 10);
    if (errno || v < 1 || v > VSW_VLAN_MAX) {
        return -1;
    }
    *s = end;
    return (int)v;
}

int
vsw_vlan_set_parse(const char *s, struct vsw_vlan_set *set, char *err,
                   size_t errlen)
{
    const char *p = s;

    memset(set, 0, sizeof *set);
    while (*p) {
        const char *item = p;
        int lo = parse_vid(&p);
        int hi = lo;

        if (lo >= 0 && *p == '-') {
            p++;
            hi = parse_vid(&p);
        }
        if (lo < 0 || hi < 0 || (*p && *p != ',')) {
            snprintf(err, errlen,
                     "bad VLAN list '%s' at '%s': expected VLAN ids 1-4094 "
                     "or ranges such as 20-30, separated by commas",
                     s, item);
            return -EINVAL;
        }
        if (hi < lo) {
            snprintf(err, errlen, "bad VLAN range %d-%d: end before start", lo,
                     hi);
            return -EINVAL;
        }
        for (int v = lo; v <= hi; v++) {
            vsw_vlan_set_add(set, (uint16_t)v);
        }
        if (*p == ',') {
            p++;
            if (!*p) {
                snprintf(err, errlen, "bad VLAN list '%s': trailing comma", s);
                return -EINVAL;
            }
        }
    }
    return 0;
}

int
vsw_vlan_set_format(const struct vsw_vlan_set *set, char *buf, size_t size)
{
    size_t n = 0;

    if (!size) {
        return -ENOSPC;
    }
    buf[0] = '\0';
    for (int v = 0; v < 4096; v++) {
        int end = v;
        int w;

        if (!vsw_vlan_set_contains(set, (uint16_t)v)) {
            continue;
        }
        while (end + 1 < 4096 && vsw_vlan_set_contains(set, end + 1)) {
            end++;
        }
        w = end > v
                ? snprintf(buf + n, size - n, "%s%d-%d", n ? "," : "", v, end)
                : snprintf(buf + n, size - n, "%s%d", n ? "," : "", v);
        if (w < 0 || (size_t)w >= size - n) {
            return -ENOSPC;
        }
        n += w;
        v = end;
    }
    return 0;
}

const char *
vsw_vlan_mode_name(enum vsw_vlan_mode mode)
{
    return (unsigned)mode <= VSW_VLAN_MODE_PVLAN_PROMISCUOUS
               ? vsw_vlan_mode_names[mode]
               : "unknown";
}

int
vsw_vlan_mode_from_name(const char *name, enum vsw_vlan_mode *mode)
{
    for (size_t i = 0; vsw_vlan_mode_names[i]; i++) {
        if (!strcmp(name, vsw_vlan_mode_names[i])) {
            *mode = (enum vsw_vlan_mode)i;
            return 0;
        }
    }
    return -EINVAL;
}
