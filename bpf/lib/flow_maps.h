/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * flow_maps.h: the maps of spliced flows, all keyed by socket cookie. Written by the agent
 * (agent/datapath/splice_datapath.cpp), read (and, for wsteer_flows, updated) by the verdict.
 *
 * Two sockhashes:
 *   wsteer_targets: every socket of a flow; membership makes a socket a redirect *target*.
 *   wsteer_spliced: sockets whose received bytes run through the verdict (the program is attached
 *                   to this map). The agent inserts into it only after the 101 reached the client,
 *                   so a first frame sent with the 101 cannot overtake it.
 */
#ifndef WSTEER_BPF_LIB_FLOW_MAPS_H
#define WSTEER_BPF_LIB_FLOW_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "wsteer_abi.h"

/* wsteer_targets: sockets that may receive redirected bytes. The verdict redirects into it and
 * looks a peer up in it for backpressure. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, WSTEER_MAX_FLOW_SOCKETS);
	__type(key, __u64);
	__type(value, __u64);
} wsteer_targets SEC(".maps");

/* wsteer_spliced: sockets whose ingress runs through wsteer_splice_verdict. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, WSTEER_MAX_FLOW_SOCKETS);
	__type(key, __u64);
	__type(value, __u64);
} wsteer_spliced SEC(".maps");

/* wsteer_flows: per spliced socket, its peer, its counters and its backpressure and rebalance
 * state (struct wsteer_flow_side). The agent creates and deletes entries, and seeds `frames`
 * before the socket is spliced; from then on only the verdict writes the entry. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WSTEER_MAX_FLOW_SOCKETS);
	__type(key, __u64);
	__type(value, struct wsteer_flow_side);
} wsteer_flows SEC(".maps");

/* wsteer_flow_ctl: per spliced socket, what the agent tells the verdict: the base of its peer's
 * byte count and the held bytes it relayed (backpressure), a close request (rebalance). Written by
 * the agent only. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WSTEER_MAX_FLOW_SOCKETS);
	__type(key, __u64);
	__type(value, struct wsteer_flow_ctl);
} wsteer_flow_ctl SEC(".maps");

#endif
