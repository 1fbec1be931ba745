/*
 * VLAN membership and tagging of a port (FEATURES.md §1).
 *
 * Inside the switch every frame belongs to one VLAN: 1..4094, or 0 for the
 * untagged domain that untagged ports live in.  A port's mode decides how
 * a frame arriving on it is classified (ingress) and whether a frame of a
 * given VLAN may leave through it, and with which tag (egress).
 *
 *   untagged  member of VLAN 0 only; frames leave untagged.
 *   access    member of VLAN 'vid' only; frames leave untagged.
 *   trunk     member of the allowed VLANs and of 'native_vid'; frames of
 *             the native VLAN leave untagged, others tagged 802.1Q.
 *   pvlan-*   private VLAN ports (FEATURES.md §3): frames of isolated and
 *             community ports belong to the primary VLAN P but carry
 *             their secondary S on trunks, frames of promiscuous ports
 *             carry P, and who reaches whom follows the reachability
 *             matrix (vsw_vlan_admits()).
 *
 * Untagged and access ports drop frames that arrive tagged with a VLAN id
 * (any TPID), which also defeats double tagging; an 802.1p priority tag
 * (VID 0) is accepted, unless another tag follows it.
 */
#ifndef VSW_VLAN_H
#define VSW_VLAN_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drop.h"
#include "flow.h"

#define VSW_VLAN_MAX 4094

enum vsw_vlan_mode {
    VSW_VLAN_MODE_UNTAGGED,
    VSW_VLAN_MODE_ACCESS,
    VSW_VLAN_MODE_TRUNK,
    VSW_VLAN_MODE_PVLAN_ISOLATED,
    VSW_VLAN_MODE_PVLAN_COMMUNITY,
    VSW_VLAN_MODE_PVLAN_PROMISCUOUS,
};

/* A frame's place in a private VLAN (FEATURES.md §3). */
enum vsw_pvlan_role {
    VSW_PVLAN_NONE,        /* an ordinary VLAN */
    VSW_PVLAN_PROMISCUOUS, /* sent by a promiscuous port: tagged P */
    VSW_PVLAN_COMMUNITY,   /* sent by a community port: tagged S */
    VSW_PVLAN_ISOLATED,    /* sent by an isolated port: tagged S */
};

/* VLAN ids 0..4095 as a bitmap. */
struct vsw_vlan_set {
    uint64_t bits[4096 / 64]; /* bit v set: VLAN v is in the set */
};

struct vsw_vlan_config {
    enum vsw_vlan_mode mode;    /* how the port tags */
    uint16_t vid;               /* access: the port's VLAN */
    uint16_t native_vid;        /* trunk: VLAN of untagged frames, 0 = the
                                   untagged domain */
    struct vsw_vlan_set trunks; /* trunk: allowed VLANs; empty = all */
    uint16_t pvlan_primary;     /* PVLAN modes: the primary VLAN P */
    uint16_t pvlan_secondary;   /* isolated, community: the secondary S */
    struct vsw_vlan_set pvlan_secondaries; /* promiscuous: secondaries it
                                              serves */
};

/* What each VLAN id is in the private VLANs of one switch, derived from
 * its PVLAN ports, so that a tagged frame from a trunk can be placed: a
 * secondary says isolated or community and names its primary; a primary
 * is promiscuous. */
struct vsw_pvlan_map {
    uint16_t primary_of[4096]; /* 0: not part of a private VLAN */
    uint8_t role_of[4096];     /* enum vsw_pvlan_role */
};

/* The ingress classification of one frame. */
struct vsw_vlan_ingress {
    uint16_t vlan;      /* VLAN inside the switch: its MAC table and flood
                           domain (the primary, for a private VLAN) */
    uint16_t tag_vid;   /* VLAN id it carries on a trunk (the secondary for
                           isolated and community frames) */
    uint8_t pvlan_role; /* enum vsw_pvlan_role */
    uint8_t pcp;        /* priority carried by the frame's tag, or 0 */
    uint8_t tag_len;    /* bytes of tag at offset 12 to leave out */
};

/* Initializes 'cfg' to untagged mode. */
void vsw_vlan_config_init(struct vsw_vlan_config *cfg);

/* Classifies a frame with key 'key' arriving on a port configured as
 * 'cfg', on a switch whose private VLANs are 'map' (NULL: none).  Returns
 * -1 and fills 'out' if the frame is accepted, or the drop reason. */
int vsw_vlan_classify(const struct vsw_vlan_config *cfg,
                      const struct vsw_pvlan_map *map,
                      const struct vsw_flow_key *key,
                      struct vsw_vlan_ingress *out);

/* True if a frame classified as 'frame' may leave through a port
 * configured as 'cfg': VLAN membership, and for private VLANs the
 * reachability matrix of FEATURES.md §3. */
bool vsw_vlan_admits(const struct vsw_vlan_config *cfg,
                     const struct vsw_vlan_ingress *frame);

/* True if such a frame leaves such a port with an 802.1Q tag (carrying
 * 'frame->tag_vid'). */
bool vsw_vlan_egress_tagged(const struct vsw_vlan_config *cfg,
                            const struct vsw_vlan_ingress *frame);

/* True if 'cfg' is one of the private VLAN modes. */
bool vsw_vlan_is_pvlan(const struct vsw_vlan_config *cfg);

/* The VLANs an ordinary frame of 'vlan' may use: membership alone. */
bool vsw_vlan_is_member(const struct vsw_vlan_config *cfg, uint16_t vlan);

/* Set operations. */
void vsw_vlan_set_add(struct vsw_vlan_set *set, uint16_t vlan);
bool vsw_vlan_set_contains(const struct vsw_vlan_set *set, uint16_t vlan);
bool vsw_vlan_set_is_empty(const struct vsw_vlan_set *set);

/* Parses a list such as "10,20-30,100" (VLANs 1..4094, ascending or not,
 * no empty items) into 'set' (cleared first).  Returns 0, or -EINVAL with
 * a one-line reason in 'err' ('errlen' bytes). */
int vsw_vlan_set_parse(const char *s, struct vsw_vlan_set *set, char *err,
                       size_t errlen);

/* Writes 'set' in the shortest list form ("10,20-30") to 'buf' ('size'
 * bytes, always NUL-terminated; an empty set gives "").  Returns 0, or
 * -ENOSPC if it did not fit. */
int vsw_vlan_set_format(const struct vsw_vlan_set *set, char *buf,
                        size_t size);

/* The mode's name ("untagged", "access", "trunk") and back.  Parsing
 * returns 0 or -EINVAL. */
const char *vsw_vlan_mode_name(enum vsw_vlan_mode mode);

/* The modes' names, indexed by enum vsw_vlan_mode, NULL-terminated. */
extern const char *const vsw_vlan_mode_names[];
int vsw_vlan_mode_from_name(const char *name, enum vsw_vlan_mode *mode);

#endif /* VSW_VLAN_H */
