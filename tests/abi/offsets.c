/*
 * The layout of ABI 1.1 (1.0 and what 1.1 appended) as numbers: the offset and
 * size of every member of every struct in the CURRENT header
 * (extensions/include), for x86-64 (LP64).  Any change to the header that
 * moves or resizes a member breaks the build here.  A new minor only appends,
 * so it only adds lines and raises the VSW_ABI_SIZE() of the structs it grows;
 * a line that has to change is a new major (see tests/abi/README.md).
 *
 * Built as the test program abi/offsets, which has nothing left to check
 * at run time.
 */
#include <vswitch/extension.h>

#include <stddef.h>
#include <stdlib.h>

#if !defined(__x86_64__) || !defined(__LP64__)
#error "the numbers below are those of x86-64 (LP64)"
#endif

/* Member 'm' of struct 's' is 'size' bytes at 'offset'. */
#define VSW_ABI_MEMBER(s, m, offset, size)                                    \
    _Static_assert(offsetof(struct s, m) == (offset), #s "." #m " moved");    \
    _Static_assert(sizeof(((struct s *)0)->m) == (size),                      \
                   #s "." #m " changed size")

/* Struct 's' is 'size' bytes. */
#define VSW_ABI_SIZE(s, size)                                                 \
    _Static_assert(sizeof(struct s) == (size), "struct " #s " changed size")

/* The version these numbers are for. */
_Static_assert(VSW_EXT_ABI_MAJOR == 1, "a new major needs new numbers");

/* Constant 'name' has value 'value' for ever. */
#define VSW_ABI_CONSTANT(name, value)                                         \
    _Static_assert((name) == (value), #name " changed")

VSW_ABI_CONSTANT(VSW_EXT_MAGIC, 0x58575356u);
VSW_ABI_CONSTANT(VSW_EXT_CLASS_CAPTURE, 1);
VSW_ABI_CONSTANT(VSW_EXT_CLASS_FILTER, 2);
VSW_ABI_CONSTANT(VSW_EXT_CLASS_FORWARDING, 3);
VSW_ABI_CONSTANT(VSW_EXT_F_FAIL_CLOSED, 0x1);
VSW_ABI_CONSTANT(VSW_EXT_F_PLAIN_FRAMES, 0x2);
VSW_ABI_CONSTANT(VSW_EXT_VERDICT_ABORTED, 0);
VSW_ABI_CONSTANT(VSW_EXT_VERDICT_CONTINUE, 1);
VSW_ABI_CONSTANT(VSW_EXT_VERDICT_DROP, 2);
VSW_ABI_CONSTANT(VSW_EXT_VERDICT_FORWARD, 3);
VSW_ABI_CONSTANT(VSW_EXT_DIR_INGRESS, 1);
VSW_ABI_CONSTANT(VSW_EXT_DIR_EGRESS, 2);
VSW_ABI_CONSTANT(VSW_EXT_LOG_ERROR, 3);
VSW_ABI_CONSTANT(VSW_EXT_LOG_WARN, 4);
VSW_ABI_CONSTANT(VSW_EXT_LOG_INFO, 6);
VSW_ABI_CONSTANT(VSW_EXT_LOG_DEBUG, 7);
VSW_ABI_CONSTANT(VSW_EXT_PKT_F_GSO, 0x1);
VSW_ABI_CONSTANT(VSW_EXT_PKT_F_CSUM_PARTIAL, 0x2);
VSW_ABI_CONSTANT(VSW_EXT_PKT_F_INJECTED, 0x4);
VSW_ABI_CONSTANT(VSW_EXT_MAX_DESTINATIONS, 16);
VSW_ABI_CONSTANT(VSW_EXT_NO_PORT, 0);
VSW_ABI_CONSTANT(VSW_EXT_PORT_CREATE, 1);
VSW_ABI_CONSTANT(VSW_EXT_PORT_POLICY, 2);
VSW_ABI_CONSTANT(VSW_EXT_STATE_MAX, 65536); /* 1.1 */
_Static_assert(sizeof VSW_EXT_DESCRIPTOR_SYMBOL ==
                   sizeof "vsw_extension_descriptor",
               "the descriptor's symbol changed");

VSW_ABI_SIZE(vsw_ext_packet, 56); /* 48 in 1.0 */
VSW_ABI_MEMBER(vsw_ext_packet, size, 0, 4);
VSW_ABI_MEMBER(vsw_ext_packet, flags, 4, 4);
VSW_ABI_MEMBER(vsw_ext_packet, data, 8, 8);
VSW_ABI_MEMBER(vsw_ext_packet, len, 16, 4);
VSW_ABI_MEMBER(vsw_ext_packet, wire_packets, 20, 4);
VSW_ABI_MEMBER(vsw_ext_packet, in_port, 24, 4);
VSW_ABI_MEMBER(vsw_ext_packet, out_port, 28, 4);
VSW_ABI_MEMBER(vsw_ext_packet, vlan, 32, 2);
VSW_ABI_MEMBER(vsw_ext_packet, gso_size, 34, 2);
VSW_ABI_MEMBER(vsw_ext_packet, pcp, 36, 1);
VSW_ABI_MEMBER(vsw_ext_packet, reserved, 37, 7);
VSW_ABI_MEMBER(vsw_ext_packet, rx_time_ns, 48, 8); /* 1.1 */

VSW_ABI_SIZE(vsw_ext_batch, 32);
VSW_ABI_MEMBER(vsw_ext_batch, size, 0, 4);
VSW_ABI_MEMBER(vsw_ext_batch, count, 4, 4);
VSW_ABI_MEMBER(vsw_ext_batch, worker, 8, 4);
VSW_ABI_MEMBER(vsw_ext_batch, direction, 12, 4);
VSW_ABI_MEMBER(vsw_ext_batch, pkts, 16, 8);
VSW_ABI_MEMBER(vsw_ext_batch, verdicts, 24, 8);

VSW_ABI_SIZE(vsw_ext_frame, 24);
VSW_ABI_MEMBER(vsw_ext_frame, size, 0, 4);
VSW_ABI_MEMBER(vsw_ext_frame, len, 4, 4);
VSW_ABI_MEMBER(vsw_ext_frame, data, 8, 8);
VSW_ABI_MEMBER(vsw_ext_frame, capacity, 16, 4);
VSW_ABI_MEMBER(vsw_ext_frame, headroom, 20, 4);

VSW_ABI_SIZE(vsw_ext_port_info, 144);
VSW_ABI_MEMBER(vsw_ext_port_info, size, 0, 4);
VSW_ABI_MEMBER(vsw_ext_port_info, id, 4, 4);
VSW_ABI_MEMBER(vsw_ext_port_info, name, 8, 64);
VSW_ABI_MEMBER(vsw_ext_port_info, switch_name, 72, 64);
VSW_ABI_MEMBER(vsw_ext_port_info, mac, 136, 6);
VSW_ABI_MEMBER(vsw_ext_port_info, is_uplink, 142, 1);
VSW_ABI_MEMBER(vsw_ext_port_info, reserved, 143, 1);

VSW_ABI_SIZE(vsw_ext_switch_info, 24);
VSW_ABI_MEMBER(vsw_ext_switch_info, size, 0, 4);
VSW_ABI_MEMBER(vsw_ext_switch_info, n_workers, 4, 4);
VSW_ABI_MEMBER(vsw_ext_switch_info, name, 8, 8);
VSW_ABI_MEMBER(vsw_ext_switch_info, sw, 16, 8);

VSW_ABI_SIZE(vsw_ext_port_change, 24);
VSW_ABI_MEMBER(vsw_ext_port_change, size, 0, 4);
VSW_ABI_MEMBER(vsw_ext_port_change, kind, 4, 4);
VSW_ABI_MEMBER(vsw_ext_port_change, port, 8, 8);
VSW_ABI_MEMBER(vsw_ext_port_change, params_json, 16, 8);

VSW_ABI_SIZE(vsw_ext_host, 152); /* 128 in 1.0 */
VSW_ABI_MEMBER(vsw_ext_host, size, 0, 4);
VSW_ABI_MEMBER(vsw_ext_host, abi_major, 4, 2);
VSW_ABI_MEMBER(vsw_ext_host, abi_minor, 6, 2);
VSW_ABI_MEMBER(vsw_ext_host, log, 8, 8);
VSW_ABI_MEMBER(vsw_ext_host, set_error, 16, 8);
VSW_ABI_MEMBER(vsw_ext_host, frame_alloc, 24, 8);
VSW_ABI_MEMBER(vsw_ext_host, frame_clone, 32, 8);
VSW_ABI_MEMBER(vsw_ext_host, frame_push, 40, 8);
VSW_ABI_MEMBER(vsw_ext_host, frame_pull, 48, 8);
VSW_ABI_MEMBER(vsw_ext_host, frame_free, 56, 8);
VSW_ABI_MEMBER(vsw_ext_host, inject, 64, 8);
VSW_ABI_MEMBER(vsw_ext_host, add_destination, 72, 8);
VSW_ABI_MEMBER(vsw_ext_host, port_lookup, 80, 8);
VSW_ABI_MEMBER(vsw_ext_host, timer_add, 88, 8);
VSW_ABI_MEMBER(vsw_ext_host, timer_cancel, 96, 8);
VSW_ABI_MEMBER(vsw_ext_host, rpc_register, 104, 8);
VSW_ABI_MEMBER(vsw_ext_host, reply_set, 112, 8);
VSW_ABI_MEMBER(vsw_ext_host, defer_free, 120, 8);
VSW_ABI_MEMBER(vsw_ext_host, rpc_register_switch, 128, 8); /* 1.1 */
VSW_ABI_MEMBER(vsw_ext_host, state_save, 136, 8);          /* 1.1 */
VSW_ABI_MEMBER(vsw_ext_host, state_load, 144, 8);          /* 1.1 */

VSW_ABI_SIZE(vsw_ext_ops, 88); /* 64 in 1.0 */
VSW_ABI_MEMBER(vsw_ext_ops, size, 0, 4);
VSW_ABI_MEMBER(vsw_ext_ops, reserved, 4, 4);
VSW_ABI_MEMBER(vsw_ext_ops, fini, 8, 8);
VSW_ABI_MEMBER(vsw_ext_ops, start, 16, 8);
VSW_ABI_MEMBER(vsw_ext_ops, stop, 24, 8);
VSW_ABI_MEMBER(vsw_ext_ops, configure, 32, 8);
VSW_ABI_MEMBER(vsw_ext_ops, process, 40, 8);
VSW_ABI_MEMBER(vsw_ext_ops, port_check, 48, 8);
VSW_ABI_MEMBER(vsw_ext_ops, stats, 56, 8);
VSW_ABI_MEMBER(vsw_ext_ops, port_added, 64, 8);   /* 1.1 */
VSW_ABI_MEMBER(vsw_ext_ops, port_removed, 72, 8); /* 1.1 */
VSW_ABI_MEMBER(vsw_ext_ops, port_changed, 80, 8); /* 1.1 */

VSW_ABI_SIZE(vsw_ext_descriptor, 64);
VSW_ABI_MEMBER(vsw_ext_descriptor, magic, 0, 4);
VSW_ABI_MEMBER(vsw_ext_descriptor, abi_major, 4, 2);
VSW_ABI_MEMBER(vsw_ext_descriptor, abi_minor, 6, 2);
VSW_ABI_MEMBER(vsw_ext_descriptor, size, 8, 4);
VSW_ABI_MEMBER(vsw_ext_descriptor, ext_class, 12, 4);
VSW_ABI_MEMBER(vsw_ext_descriptor, flags, 16, 4);
VSW_ABI_MEMBER(vsw_ext_descriptor, reserved, 20, 4);
VSW_ABI_MEMBER(vsw_ext_descriptor, name, 24, 8);
VSW_ABI_MEMBER(vsw_ext_descriptor, version, 32, 8);
VSW_ABI_MEMBER(vsw_ext_descriptor, description, 40, 8);
VSW_ABI_MEMBER(vsw_ext_descriptor, ops, 48, 8);
VSW_ABI_MEMBER(vsw_ext_descriptor, init, 56, 8);

/* Everything was checked at compile time. */
int
main(void)
{
    return EXIT_SUCCESS;
}
