/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Backpressure for spliced flows.
 *
 * Why: bpf_sk_redirect_hash() to the peer's egress never pushes back. The verdict consumes each
 * skb from the sender-side socket's receive queue at once (so its TCP window stays open) and the
 * skb waits in the peer's psock backlog until the peer's send buffer has room. A fast sender and
 * a slow reader park an unbounded amount of kernel memory in the middle (1 GB for one flow was
 * measured on 6.18).
 *
 * How: before redirecting, the verdict looks the peer socket up in wsteer_targets and reads its
 * tcp_sock (CO-RE, no vmlinux.h: only the field named below is relocated against the running
 * kernel's BTF). Bytes in the middle = redirected so far + the peer's written base - the peer's
 * bytes_acked: what sits in the peer's psock backlog, send queue and in flight. While that is
 * over the flow's limit, the verdict returns SK_PASS instead: the skb goes to the socket's *own*
 * psock queue, charged to its receive memory, so its TCP window closes and the sender slows down
 * exactly as with a direct connection. The first held skb posts an event. Once the peer has
 * drained, the agent moves the held bytes to the peer (recv on this socket, send on the peer;
 * at most one receive buffer per hold) and counts them in wsteer_flow_ctl; the verdict holds
 * every skb while held > copied, so nothing overtakes the held bytes, and redirects again once
 * the agent has caught up.
 *
 * Why not take the socket out of the verdict map to pause it: on 6.18 a sockhash delete clears
 * the psock's verdict program while tcp_read_skb() may be running on another CPU, and the skb in
 * hand is then dropped (measured: 327 KB lost over 2,000 pause/resume cycles).
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

/* wsteer_events: "started holding" notices from the verdict to the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} wsteer_events SEC(".maps");

/* wsteer_flow_ctl: per held socket, how many held bytes the agent has moved. Written by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WSTEER_MAX_FLOW_SOCKETS);
	__type(key, __u64);
	__type(value, struct wsteer_flow_ctl);
} wsteer_flow_ctl SEC(".maps");

/* Bytes from `side` (redirected or held for the peer) that the peer's receiver has not acknowledged. */
static __always_inline __s64 wsteer_bytes_in_middle(void *targets, const struct wsteer_flow_side *side)
{
	__u64 peer = side->peer_cookie;
	struct bpf_sock *peer_sk = bpf_map_lookup_elem(targets, &peer);
	if (!peer_sk)
		return 0;
	__s64 middle = 0;
	struct tcp_sock___wsteer *tp = (struct tcp_sock___wsteer *)bpf_skc_to_tcp_sock(peer_sk);
	if (tp)
		middle = (__s64)(side->bytes + side->held + side->peer_written_base - tp->bytes_acked);
	bpf_sk_release(peer_sk);
	return middle;
}

/* True when this skb must stay on its own socket: the peer is over the limit, or earlier held
 * bytes have not all been moved yet (order). Accounts the skb as held. */
static __always_inline int wsteer_should_hold(void *targets, struct wsteer_flow_side *side, __u64 cookie, __u32 len)
{
	if (!side->limit)
		return 0;
	if (side->held) {
		struct wsteer_flow_ctl *ctl = bpf_map_lookup_elem(&wsteer_flow_ctl, &cookie);
		__u64 copied = ctl ? ctl->copied : 0;
		if (side->held > copied) {
			side->held += len;
			return 1;
		}
	}
	if (wsteer_bytes_in_middle(targets, side) + len <= (__s64)side->limit)
		return 0;
	side->held += len;
	struct wsteer_event ev = {.cookie = cookie, .type = WSTEER_EVENT_HOLD};
	bpf_ringbuf_output(&wsteer_events, &ev, sizeof(ev), 0);
	return 1;
}

#endif
