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
};

/* The ingress classification of one frame. */
struct vsw_vlan_ingress {
    uint16_t vlan;   /* VLAN inside the switch */
    uint8_t pcp;     /* priority carried by the frame's tag, or 0 */
    uint8_t tag_len; /* bytes of tag at offset 12 to leave out */
};

/* Initializes 'cfg' to untagged mode. */
void vsw_vlan_config_init(struct vsw_vlan_config *cfg);

/* Classifies a frame with key 'key' arriving on a port configured as
 * 'cfg'.  Returns -1 and fills 'out' if the frame is accepted, or the
 * drop reason. */
int vsw_vlan_classify(const struct vsw_vlan_config *cfg,
                      const struct vsw_flow_key *key,
                      struct vsw_vlan_ingress *out);

/* True if frames of 'vlan' may leave through a port configured as
 * 'cfg'. */
bool vsw_vlan_is_member(const struct vsw_vlan_config *cfg, uint16_t vlan);

/* True if a frame of 'vlan' leaves such a port with an 802.1Q tag. */
bool vsw_vlan_egress_tagged(const struct vsw_vlan_config *cfg, uint16_t vlan);

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
int vsw_vlan_mode_from_name(const char *name, enum vsw_vlan_mode *mode);

#endif /* VSW_VLAN_H */
