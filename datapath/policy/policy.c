#include "policy.h"

#include <stdlib.h>

struct vsw_rule_counters *
vsw_rule_counters_create(unsigned n_workers)
{
    struct vsw_rule_counters *counters = calloc(
        1, sizeof *counters + n_workers * sizeof counters->per_worker[0]);

    if (counters) {
        counters->n_workers = n_workers;
    }
    return counters;
}

void
vsw_rule_counters_destroy(struct vsw_rule_counters *counters)
{
    free(counters);
}

void
vsw_rule_counters_add(struct vsw_rule_counters *counters, unsigned worker,
                      uint64_t packets, uint64_t bytes)
{
    struct vsw_rule_count *c = &counters->per_worker[worker];

    /* One writer per share: load and store, no read-modify-write. */
    atomic_store_explicit(
        &c->packets,
        atomic_load_explicit(&c->packets, memory_order_relaxed) + packets,
        memory_order_relaxed);
    atomic_store_explicit(
        &c->bytes,
        atomic_load_explicit(&c->bytes, memory_order_relaxed) + bytes,
        memory_order_relaxed);
}

void
vsw_rule_counters_get(const struct vsw_rule_counters *counters,
                      uint64_t *packets, uint64_t *bytes)
{
    *packets = *bytes = 0;
    for (unsigned w = 0; w < counters->n_workers; w++) {
        *packets += atomic_load_explicit(&counters->per_worker[w].packets,
                                         memory_order_relaxed);
        *bytes += atomic_load_explicit(&counters->per_worker[w].bytes,
                                       memory_order_relaxed);
    }
}

static uint32_t
user_id(const struct vsw_port_policy *policy, uint32_t dense)
{
    return dense < policy->n_acl_counters ? policy->acl_rule_ids[dense]
                                          : VSW_ACL_NO_RULE;
}

void
vsw_port_policy_acl_user_ids(const struct vsw_port_policy *policy,
                             struct vsw_acl_result *result)
{
    result->ip_rule = user_id(policy, result->ip_rule);
    result->mac_rule = user_id(policy, result->mac_rule);
    result->meter_rule = user_id(policy, result->meter_rule);
}

void
vsw_port_policy_destroy(struct vsw_port_policy *policy)
{
    if (policy) {
        vsw_acl_destroy(policy->acl);
        vsw_xacl_destroy(policy->xacl);
        free(policy->acl_counters);
        free(policy->acl_rule_ids);
        free(policy->xacl_counters);
        free(policy);
    }
}
