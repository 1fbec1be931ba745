/*
 * The settings schema: every setting of an object kind (switch, port,
 * later team and tunnel) is one row of a static table in the module that
 * owns the kind, and this engine does everything else from the table.
 *
 * A row names the key, its type and range, its default, the mode it
 * applies to, whether it is fixed once the object exists, the member of
 * the kind's settings struct it fills, and one line of help.  From that
 * the engine:
 *   - applies the keys of an add or set request to a copy of the
 *     settings, all or nothing, refusing unknown keys (with the nearest
 *     known one suggested), values of the wrong type or out of range,
 *     fixed keys after creation and keys of another mode;
 *   - writes the settings as JSON for get, list, show and config.json;
 *   - describes the kind for schema.get, which the CLI's help and the
 *     documentation check read.
 *
 * Values must have their JSON type (an integer is a JSON number, a
 * boolean true or false; a bit rate may also be text such as "10M"):
 * orchestration tools get their mistakes back rather than guesses.  The
 * CLI converts command-line text (cli/params.c).  A setting that can be
 * unset (a MAC, a list) is null when unset, in output and input alike.
 *
 * Everything runs on the control thread; the engine keeps no state.
 */
#ifndef VSW_SETTINGS_H
#define VSW_SETTINGS_H 1

#include <jansson.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc-server.h"

enum vsw_setting_type {
    VSW_SETTING_INTEGER,     /* [min, max], in a uint16_t/uint32_t/uint64_t */
    VSW_SETTING_BIT_RATE,    /* bits per second, "10M", "1.5G", "800k"; in a
                                uint64_t */
    VSW_SETTING_BOOLEAN,     /* in a bool */
    VSW_SETTING_ENUM,        /* one of 'names'; its index in an int-sized
                                enum, or in a bool for two names */
    VSW_SETTING_MAC,         /* unicast MAC, in a struct vsw_setting_mac */
    VSW_SETTING_VLAN_SET,    /* "10,20-30", in a struct vsw_vlan_set */
    VSW_SETTING_IP_LIST,     /* "10.0.0.1,2001:db8::1", in a struct
                                vsw_setting_ip_list */
    VSW_SETTING_IFNAME,      /* an interface name, in char[IFNAMSIZ]; a
                                setting with no default may be unset ("",
                                null in JSON) */
    VSW_SETTING_IFNAME_LIST, /* "eth1,eth2": distinct interface names, in
                                a struct vsw_setting_ifname_list */
    VSW_SETTING_VTEPS,       /* "5001:192.0.2.1,5002:192.0.2.7": remote
                                VTEPs per VNI, in a struct
                                vsw_setting_vtep_list */
    VSW_SETTING_PATH,        /* an absolute file name shorter than a unix
                                socket's (108 bytes), in char[]; "" unset */
    VSW_SETTING_GROUP,       /* the name of an existing system group, in
                                char[]; "" unset */
};

/* Flags of a setting. */
#define VSW_SETTING_FIXED    0x1 /* given at creation only */
#define VSW_SETTING_REQUIRED 0x2 /* must be given at creation */
#define VSW_SETTING_ALIAS                                                     \
    0x4                          /* another name of 'alias_of', for input     \
                                    only: get and config.json show the        \
                                    other */
#define VSW_SETTING_INVERTED 0x8 /* boolean alias meaning the opposite */
#define VSW_SETTING_OPTIONAL                                                  \
    0x10 /* an interface name that may be unset:                              \
            null in JSON, "" in the struct */

/* A MAC setting that may be unset. */
struct vsw_setting_mac {
    bool set;        /* false: unset (null in JSON) */
    uint8_t addr[6]; /* the address when 'set' */
};

#define VSW_SETTING_MAX_IPS 64
/* A list of IPv4 and IPv6 addresses; IPv4 ones are kept IPv4-mapped. */
struct vsw_setting_ip_list {
    unsigned n;                            /* addresses in 'addr' */
    uint8_t addr[VSW_SETTING_MAX_IPS][16]; /* in the order given */
};

#define VSW_SETTING_MAX_VTEPS 256
/* Remote VXLAN endpoints, each of one VNI (IPv4 underlay). */
struct vsw_setting_vtep_list {
    unsigned n; /* entries in 'vtep' */
    struct {
        uint32_t vni;              /* 1..16777215 */
        uint32_t ip;               /* IPv4, network order */
    } vtep[VSW_SETTING_MAX_VTEPS]; /* in the order given */
};

/* Parses "VNI:IPv4,..." into 'list'.  Returns 0, or -EINVAL with the
 * reason in 'why'. */
int vsw_vtep_list_parse(const char *text, struct vsw_setting_vtep_list *list,
                        char *why, size_t why_size);

#define VSW_SETTING_MAX_IFNAMES 16
/* A list of interface names (a team's members), in the order given. */
struct vsw_setting_ifname_list {
    unsigned n;                                    /* names in 'names' */
    char names[VSW_SETTING_MAX_IFNAMES][IFNAMSIZ]; /* each valid, distinct */
};

/* One setting: a row of a kind's table. */
struct vsw_setting {
    const char *key;            /* kebab-case, as in JSON and the CLI */
    enum vsw_setting_type type; /* what values it takes */
    size_t offset;              /* of its member in the settings struct */
    size_t size;                /* of that member */
    long long min;              /* integer, bit rate: smallest value */
    long long max;              /* integer, bit rate: largest value */
    const char *const *names;   /* enum: the values, NULL-terminated; the
                                   stored value is the index */
    const char *default_value;  /* as text; NULL: unset, or derived by
                                   the kind (the help says how) */
    const char *when_key;       /* applies only when this enum setting of
                                   the same table ... */
    unsigned when_values;       /* ... has one of these values (bit i =
                                   names[i]); NULL/0: always */
    const char *owner_key;      /* applies only on an object whose owner
                                   (a port's switch) has this enum setting
                                   of the owner kind's table ... */
    unsigned owner_values;      /* ... at one of these values; NULL/0: on
                                   any owner.  The engine sees one object:
                                   the kind's check enforces it, the
                                   schema describes it */
    unsigned flags;             /* VSW_SETTING_* */
    const char *alias_of;       /* VSW_SETTING_ALIAS: the setting's key */
    const char *help;           /* one line, no period */
};

/* An object kind and its table. */
struct vsw_settings_kind {
    const char *name;                      /* "port" */
    const struct vsw_setting *settings;    /* the table */
    size_t n_settings;                     /* rows in 'settings' */
    const char *const *other_keys;         /* keys of add and set requests
                                              that are not settings ("name"),
                                              NULL-terminated */
    const char *const *create_keys;        /* keys add takes that are not
                                              settings ("switch", "may-exist"),
                                              refused in a set; NULL-terminated */
    const struct vsw_settings_kind *owner; /* the kind of the objects that
                                              own these (a port's switch),
                                              for 'owner_key'; or NULL */
};

/* Declares the row of a setting of 'type' stored in 'member' of 'st'. */
#define VSW_SETTING_ROW(KEY, TYPE, ST, MEMBER)                                \
    .key = (KEY), .type = (TYPE), .offset = offsetof(ST, MEMBER),             \
    .size = sizeof(((ST *)0)->MEMBER)

/* Puts every setting of 'kind' in 'cfg' to its default: what an object
 * has before any key is applied. */
void vsw_settings_init(const struct vsw_settings_kind *kind, void *cfg);

/* Applies the keys of 'params' to 'cfg', an object's settings ('creating'
 * for add, where fixed and required keys are allowed and checked).  Mode
 * keys go first; when one changes, every setting that depends on it goes
 * back to its default: a new mode starts from its defaults.  On failure
 * returns a negative value after filling 'err' with a message that names the
 * key, and 'cfg' may be half-changed: callers apply to a copy.  'params' may
 * hold the kind's other keys, which are ignored here. */
int vsw_settings_apply(const struct vsw_settings_kind *kind, void *cfg,
                       const json_t *params, bool creating,
                       struct vsw_rpc_error *err);

/* Adds to 'obj' every setting of 'cfg' that applies in its mode, in table
 * order (aliases are input only); an unset one is null. */
void vsw_settings_to_json(const struct vsw_settings_kind *kind,
                          const void *cfg, json_t *obj);

/* Describes 'kind' for schema.get (a new reference). */
json_t *vsw_settings_schema(const struct vsw_settings_kind *kind);

/* Parses a bit rate: a number of bits per second with an optional SI
 * suffix k, M, G or T (powers of 1000), such as "800k" or "1.5G".
 * Returns 0, or -EINVAL (not a rate) or -ERANGE (over UINT64_MAX or a
 * fraction of a bit). */
int vsw_bit_rate_parse(const char *text, uint64_t *bps);

/* Formats 'bps' with the largest SI suffix that keeps it exact, such as
 * "10M" or "1500k", into 'buf' (24 bytes are always enough). */
void vsw_bit_rate_format(uint64_t bps, char *buf, size_t size);

/* Parses a comma-separated list of IPv4/IPv6 addresses ("" for none).
 * Returns 0, or fills 'why' and returns -EINVAL. */
int vsw_ip_list_parse(const char *text, struct vsw_setting_ip_list *list,
                      char *why, size_t why_size);

/* MAC text "02:00:00:00:00:01" to bytes: 0 or -EINVAL. */
int vsw_mac_parse(const char *text, uint8_t mac[6]);

/* 'mac' as "02:00:00:00:00:01". */
void vsw_mac_format(const uint8_t mac[6], char buf[18]);

/* The distance between 'a' and 'b' in single-character edits (insert,
 * delete, replace, swap two neighbours); for "did you mean". */
size_t vsw_edit_distance(const char *a, const char *b);

#endif /* VSW_SETTINGS_H */
