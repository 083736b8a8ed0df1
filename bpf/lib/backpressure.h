/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Backpressure for spliced flows.
 *
 * Why: bpf_sk_redirect_hash() to the peer's egress never pushes back. The verdict consumes the
 * skb from the sender-side socket's receive queue at once (its TCP window stays open) and the skb
 * waits in the peer's psock backlog until the peer's send buffer has room. A fast sender and a
 * slow reader therefore park an unbounded amount of kernel memory in the middle (1 GB for one
 * flow was measured on 6.18).
 *
 * How: after each redirect the verdict looks up the peer socket in wsteer_targets and reads its
 * tcp_sock (CO-RE, no vmlinux.h: only the fields named below are relocated against the running
 * kernel's BTF). Bytes in the middle = redirected so far + peer's written base - peer's
 * bytes_acked. Over the flow's limit, the verdict marks the flow paused and posts an event; the
 * agent then takes the sender-side socket out of wsteer_spliced. New bytes stay in that socket's
 * TCP receive queue, its window closes, and TCP slows the sender exactly as a direct connection
 * would. When the peer has drained (the agent watches bytes_acked), the agent splices the socket
 * again and kicks it: the queued bytes go through the verdict in order. The skb that crossed the
 * limit is still redirected: nothing is dropped, so the bound is limit + one receive window +
 * what arrives while the agent reacts.
 */
#ifndef WSTEER_BPF_LIB_BACKPRESSURE_H
#define WSTEER_BPF_LIB_BACKPRESSURE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "wsteer_abi.h"

/* The only tcp_sock field read; "___wsteer" keeps the name out of the kernel's namespace while
 * CO-RE matches it to struct tcp_sock by the part before the triple underscore. */
struct tcp_sock___wsteer {
	__u64 bytes_acked;
} __attribute__((preserve_access_index));

/* wsteer_events: pause requests from the verdict to the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} wsteer_events SEC(".maps");

/* Bytes redirected from `side` that the peer's receiver has not acknowledged yet. */
static __always_inline __s64 wsteer_bytes_in_middle(struct bpf_sock *peer_sk, const struct wsteer_flow_side *side)
{
	struct tcp_sock___wsteer *tp = (struct tcp_sock___wsteer *)bpf_skc_to_tcp_sock(peer_sk);
	if (!tp)
		return 0;
	return (__s64)(side->bytes + side->peer_written_base - tp->bytes_acked);
}

/* Marks the flow paused and tells the agent, once per crossing of the limit. */
static __always_inline void wsteer_check_backpressure(void *targets, struct wsteer_flow_side *side, __u64 cookie)
{
	if (!side->limit)
		return;
	__u64 peer = side->peer_cookie;
	struct bpf_sock *peer_sk = bpf_map_lookup_elem(targets, &peer);
	if (!peer_sk)
		return;
	__s64 middle = wsteer_bytes_in_middle(peer_sk, side);
	bpf_sk_release(peer_sk);

	if (middle <= (__s64)side->limit) {
		if (side->paused)
			side->paused = 0;
		return;
	}
	if (side->paused)
		return;
	side->paused = 1;
	struct wsteer_event ev = {.cookie = cookie, .type = WSTEER_EVENT_PAUSE};
	bpf_ringbuf_output(&wsteer_events, &ev, sizeof(ev), 0);
}

#endif
