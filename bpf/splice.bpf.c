/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * splice.bpf.c: the sk_skb verdict that moves an established WebSocket flow between the client's
 * and the backend's sockets inside the kernel. See shared/KERNEL-NOTES.md for why it is shaped so.
 *
 * Two sockhashes, both keyed by socket cookie:
 *   wsteer_targets: every socket of a flow; membership makes a socket a redirect *target*.
 *   wsteer_spliced: sockets whose received bytes run through the verdict (the program is attached
 *                   to this map). The agent inserts into it only after the 101 reached the client,
 *                   so a first frame sent with the 101 cannot overtake it.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "wsteer_abi.h"
#include "lib/stats.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* wsteer_targets: sockets that may receive redirected bytes. Written by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, WSTEER_MAX_FLOW_SOCKETS);
	__type(key, __u64);
	__type(value, __u64);
} wsteer_targets SEC(".maps");

/* wsteer_spliced: sockets whose ingress runs through wsteer_splice_verdict. Written by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, WSTEER_MAX_FLOW_SOCKETS);
	__type(key, __u64);
	__type(value, __u64);
} wsteer_spliced SEC(".maps");

/* wsteer_flows: per spliced socket, its peer and its counters. Written by the agent (create,
 * delete) and the verdict (counters). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WSTEER_MAX_FLOW_SOCKETS);
	__type(key, __u64);
	__type(value, struct wsteer_flow_side);
} wsteer_flows SEC(".maps");

/* wsteer_backends: backend id -> name, address, state, weight. Written by the agent for wsteerctl. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WSTEER_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct wsteer_backend_info);
} wsteer_backends SEC(".maps");

/* wsteer_maglev: Maglev slot -> backend id, the agent's current lookup table. The agent sets the
 * size before load and rewrites it on every rebuild; wsteerctl and XDP read it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WSTEER_MAGLEV_DEFAULT_SIZE);
	__type(key, __u32);
	__type(value, __u32);
} wsteer_maglev SEC(".maps");

SEC("sk_skb")
int wsteer_splice_verdict(struct __sk_buff *skb)
{
	struct wsteer_stats *stats = wsteer_stats_slot();

	/* A FIN arrives as a zero-length skb. Redirecting it makes the peer's backlog call the send
	 * path with length 0, which fails with EPIPE on the peer. TCP already recorded the FIN; the
	 * agent sees the hang-up and propagates it once the peer has sent everything. */
	if (skb->len == 0) {
		if (stats)
			stats->zero_len_dropped++;
		return SK_DROP;
	}

	__u64 cookie = bpf_get_socket_cookie(skb);
	struct wsteer_flow_side *side = bpf_map_lookup_elem(&wsteer_flows, &cookie);
	if (!side) {
		/* Not ours (the agent inserts the flow before the socket): leave it to its owner. */
		if (stats)
			stats->no_flow++;
		return SK_PASS;
	}

	__u32 len = skb->len;
	__u32 dir = side->direction == WSTEER_DIR_BACKEND_TO_CLIENT ? WSTEER_DIR_BACKEND_TO_CLIENT
								    : WSTEER_DIR_CLIENT_TO_BACKEND;
	__u64 peer = side->peer_cookie;
	long verdict = bpf_sk_redirect_hash(skb, &wsteer_targets, &peer, 0);
	if (verdict != SK_PASS) {
		__sync_fetch_and_add(&side->redirect_failures, 1);
		if (stats)
			stats->redirect_failures++;
		return SK_DROP;
	}

	__sync_fetch_and_add(&side->bytes, len);
	__sync_fetch_and_add(&side->skbs, 1);
	if (stats) {
		stats->bytes[dir] += len;
		stats->skbs[dir]++;
	}
	__u32 backend = side->backend_id;
	struct wsteer_backend_counters *bc = bpf_map_lookup_elem(&wsteer_backend_counters, &backend);
	if (bc) {
		bc->bytes[dir] += len;
		bc->skbs[dir]++;
	}
	return SK_PASS;
}
