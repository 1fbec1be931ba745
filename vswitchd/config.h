/*
 * config.json: the daemon's desired state, what it saves and restores.
 *
 * Loading is a pure step: the document is migrated to the current format
 * and checked entry by entry against the settings tables and the ACL rule
 * syntax, giving a desired state, with no threads, devices or plugins
 * involved, so that it can be unit-tested and fuzzed on its own.  Applying
 * the desired state (devices, snapshot, plugins) is the manager's
 * (mgr_config_restore() in manager-private.h).
 *
 * Format 2 (current):
 *   {"format": 2,
 *    "switches": [{"name": ..., "settings": {switch settings},
 *                  "ports": [{"name": ..., "settings": {port settings},
 *                             "tap-location": {...}, "acls": [...],
 *                             "xacls": [...]}],
 *                  "extensions": [{"name": ..., "config": {...}}]}],
 *    "extensions": [{"name": ..., "path": ..., "quarantined": ...}]}
 * Format 1 had each object's settings beside its name, ports and state;
 * it is migrated by moving them into "settings".
 */
#ifndef VSW_CONFIG_H
#define VSW_CONFIG_H 1

#include <jansson.h>
#include <stddef.h>

#include "manager-private.h"

#define MGR_CONFIG_FORMAT 2

/* A port of the desired state. */
struct mgr_desired_port {
    char name[VSW_NAME_MAX]; /* checked, unique across the daemon */
    struct mgr_port_cfg cfg; /* checked against the settings table */
    json_t *tap_location;    /* where its TAP was last seen, or NULL */
    json_t *acls;            /* basic ACL rules that parse, as saved */
    json_t *xacls;           /* extended ACL rules that parse, as saved */
};

/* A switch of the desired state. */
struct mgr_desired_switch {
    char name[VSW_NAME_MAX];        /* checked, unique */
    struct mgr_switch_cfg cfg;      /* checked against the settings table */
    struct mgr_desired_port *ports; /* in saved order */
    size_t n_ports;                 /* entries in 'ports' */
};

/* What a configuration document asks for. */
struct mgr_desired {
    int format;                          /* of the document as read */
    struct mgr_desired_switch *switches; /* in saved order */
    size_t n_switches;                   /* entries in 'switches' */
    json_t *document;    /* the document migrated to MGR_CONFIG_FORMAT; the
                            extensions are restored from it */
    unsigned n_rejected; /* entries left out as unusable (each logged) */
};

/* Turns 'root' (borrowed), a configuration document read from 'origin'
 * (for messages), into a desired state.  Entries that cannot be used are
 * left out, logged and counted.  Fails, writing why to 'err', only for a
 * document that is not a configuration at all or has a format newer than
 * this daemon's (nothing can then be trusted to mean what it says).
 * Returns 0 and stores the result (free it with mgr_desired_destroy()) in
 * '*desiredp', or -EINVAL. */
int mgr_config_parse(const json_t *root, const char *origin,
                     struct mgr_desired **desiredp, char *err, size_t errlen);

/* The same for JSON text of 'len' bytes, as the fuzzer feeds it. */
int mgr_config_parse_text(const char *text, size_t len, const char *origin,
                          struct mgr_desired **desiredp, char *err,
                          size_t errlen);

/* Frees 'desired'.  NULL is allowed. */
void mgr_desired_destroy(struct mgr_desired *desired);

#endif /* VSW_CONFIG_H */
