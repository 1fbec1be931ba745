/*
 * Builds an Ethernet frame from fields a person types, for tracing:
 * eth-src, eth-dst, vlan, ip-src, ip-dst (IPv4 or IPv6), proto (tcp, udp,
 * icmp, icmpv6 or a number), sport, dport, icmp-type, dhcp-op, arp-op;
 * or takes the whole frame as hex.  Runs on the control thread.
 */
#ifndef VSW_FRAME_BUILDER_H
#define VSW_FRAME_BUILDER_H 1

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc-server.h"

#define VSW_FRAME_BUILDER_MAX 9018

/* The trace params that describe the frame (the others are the caller's
 * own), NULL-terminated. */
extern const char *const vsw_frame_builder_keys[];

/* Builds the frame 'params' describe into 'frame' (VSW_FRAME_BUILDER_MAX
 * bytes) and stores its length in '*len'.  'default_src' is the source
 * MAC when "eth-src" is absent.  Returns 0, or fills 'err' with
 * VSW_RPC_INVALID_PARAMS and a message naming the field. */
int vsw_frame_build(json_t *params, const uint8_t default_src[6],
                    uint8_t *frame, size_t *len, struct vsw_rpc_error *err);

#endif /* VSW_FRAME_BUILDER_H */
