/*
 * The ABI probe for abidiff: a shared library, built with -g against the
 * CURRENT header, whose exported functions take every struct of the ABI,
 * so that abidw describes all of them (and, through vsw_ext_host and
 * vsw_ext_ops, every function-pointer signature).  Never loaded; only its
 * debug information matters.  tests/abi/abidiff.sh compares it with
 * baseline-<major>.<minor>.abi.
 */
#include <vswitch/extension.h>

#define VSW_PROBE __attribute__((visibility("default")))

VSW_PROBE const struct vsw_ext_descriptor *
vsw_abi_probe_descriptor(const struct vsw_ext_descriptor *d);
VSW_PROBE const struct vsw_ext_ops *
vsw_abi_probe_ops(const struct vsw_ext_ops *ops);
VSW_PROBE const struct vsw_ext_host *
vsw_abi_probe_host(const struct vsw_ext_host *host);
VSW_PROBE const struct vsw_ext_batch *
vsw_abi_probe_batch(const struct vsw_ext_batch *batch,
                    const struct vsw_ext_packet *pkt);
VSW_PROBE struct vsw_ext_frame *vsw_abi_probe_frame(struct vsw_ext_frame *f);
VSW_PROBE struct vsw_ext_port_info *
vsw_abi_probe_port_info(struct vsw_ext_port_info *info);
VSW_PROBE const struct vsw_ext_switch_info *
vsw_abi_probe_switch_info(const struct vsw_ext_switch_info *info);
VSW_PROBE const struct vsw_ext_port_change *
vsw_abi_probe_port_change(const struct vsw_ext_port_change *change);
VSW_PROBE vsw_ext_rpc_fn vsw_abi_probe_rpc_fn(vsw_ext_rpc_fn fn);

/* Each function hands its argument back: the signatures are the point. */

/* Describes struct vsw_ext_descriptor, hence vsw_ext_ops. */
const struct vsw_ext_descriptor *
vsw_abi_probe_descriptor(const struct vsw_ext_descriptor *d)
{
    return d;
}

/* Describes struct vsw_ext_ops and every callback signature. */
const struct vsw_ext_ops *
vsw_abi_probe_ops(const struct vsw_ext_ops *ops)
{
    return ops;
}

/* Describes struct vsw_ext_host and every service signature. */
const struct vsw_ext_host *
vsw_abi_probe_host(const struct vsw_ext_host *host)
{
    return host;
}

/* Describes struct vsw_ext_batch and struct vsw_ext_packet. */
const struct vsw_ext_batch *
vsw_abi_probe_batch(const struct vsw_ext_batch *batch,
                    const struct vsw_ext_packet *pkt)
{
    (void)pkt;
    return batch;
}

/* Describes struct vsw_ext_frame. */
struct vsw_ext_frame *
vsw_abi_probe_frame(struct vsw_ext_frame *f)
{
    return f;
}

/* Describes struct vsw_ext_port_info. */
struct vsw_ext_port_info *
vsw_abi_probe_port_info(struct vsw_ext_port_info *info)
{
    return info;
}

/* Describes struct vsw_ext_switch_info. */
const struct vsw_ext_switch_info *
vsw_abi_probe_switch_info(const struct vsw_ext_switch_info *info)
{
    return info;
}

/* Describes struct vsw_ext_port_change. */
const struct vsw_ext_port_change *
vsw_abi_probe_port_change(const struct vsw_ext_port_change *change)
{
    return change;
}

/* Describes vsw_ext_rpc_fn. */
vsw_ext_rpc_fn
vsw_abi_probe_rpc_fn(vsw_ext_rpc_fn fn)
{
    return fn;
}
