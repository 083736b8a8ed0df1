/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Which destination ports the XDP guard judges: the agent's listen ports. */
#ifndef WSTEER_BPF_LIB_XDP_PORTS_H
#define WSTEER_BPF_LIB_XDP_PORTS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "wsteer_abi.h"

/* wsteer_xdp_ports: listen port (host byte order) -> 1. Written by the agent at start from its
 * services; anything to another port passes at once. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WSTEER_XDP_MAX_PORTS);
	__type(key, __u16);
	__type(value, __u8);
} wsteer_xdp_ports SEC(".maps");

static __always_inline int wsteer_xdp_port_guarded(__u16 port)
{
	return bpf_map_lookup_elem(&wsteer_xdp_ports, &port) != 0;
}

#endif
