/*
 * A port's compiled policy, as one configuration snapshot carries it:
 * extended and basic ACLs (xacl.h, acl.h) and guards (guard.h), plus the
 * map from each rule to its counters.
 *
 * Rules' counters outlive snapshots: they belong to the rule (the control
 * plane creates them when the rule is added and frees them through a
 * grace period when it is removed), and each snapshot's policy only
 * points at them, so a configuration change never loses a count.
 */
#ifndef VSW_POLICY_H
#define VSW_POLICY_H 1

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "acl.h"
#include "guard.h"
#include "xacl.h"

/* One worker's share of a rule's counters; only that worker writes. */
struct vsw_rule_count {
    _Atomic uint64_t packets; /* wire frames the rule decided or metered */
    _Atomic uint64_t bytes;   /* their bytes */
} __attribute__((aligned(16)));

/* A rule's counters, one pair per worker. */
struct vsw_rule_counters {
    unsigned n_workers;                 /* entries in 'per_worker' */
    struct vsw_rule_count per_worker[]; /* indexed by worker */
};

/* Creates zeroed counters for 'n_workers' workers; NULL on allocation
 * failure.  Control thread. */
struct vsw_rule_counters *vsw_rule_counters_create(unsigned n_workers);
void vsw_rule_counters_destroy(struct vsw_rule_counters *counters);

/* Worker 'worker': counts 'packets' frames of 'bytes'. */
void vsw_rule_counters_add(struct vsw_rule_counters *counters, unsigned worker,
                           uint64_t packets, uint64_t bytes);

/* Sums the workers' shares. */
void vsw_rule_counters_get(const struct vsw_rule_counters *counters,
                           uint64_t *packets, uint64_t *bytes);

struct vsw_port_policy {
    struct vsw_guard_config guard; /* the port's guards */
    struct vsw_acl_table *acl;     /* basic ACLs (owned), NULL: none */
    /* The basic rules are compiled with dense ids 1..n, in the order of
     * their user-visible ids (so "the lowest id wins" still holds): a
     * user's id can be anything up to UINT32_MAX, and an array indexed by
     * it could be gigabytes. */
    size_t n_acl_counters; /* entries in 'acl_counters' and 'acl_rule_ids'
                              (n + 1; entry 0 is VSW_ACL_NO_RULE's) */
    struct vsw_rule_counters **acl_counters; /* by dense id (owned array of
                                                borrowed pointers) */
    uint32_t *acl_rule_ids;      /* by dense id: the user's id (owned), for
                                    traces */
    struct vsw_xacl_table *xacl; /* extended ACLs (owned), NULL: none */
    size_t n_xacl_counters;      /* entries in 'xacl_counters' */
    struct vsw_rule_counters **xacl_counters; /* by the rule's index in the
                                                 compiled array */
};

/* Replaces the dense rule ids of 'result', as 'policy' compiled them, by
 * the user's ids. */
void vsw_port_policy_acl_user_ids(const struct vsw_port_policy *policy,
                                  struct vsw_acl_result *result);

/* Frees 'policy' and its tables (not the counters); NULL is allowed. */
void vsw_port_policy_destroy(struct vsw_port_policy *policy);

#endif /* VSW_POLICY_H */
