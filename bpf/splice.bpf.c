/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * splice.bpf.c: the sk_skb verdict that moves an established WebSocket flow between the client's
 * and the backend's sockets inside the kernel. See docs/kernel-notes.md ("Splicing a flow") for
 * why it is shaped so. Its maps, one header per concern:
 *   lib/flow_maps.h       the sockhashes and per-socket state of spliced flows
 *   lib/events.h          the ring buffer that wakes the agent
 *   lib/stats.h           the per-CPU counters and the one helper that writes them
 *   lib/published_maps.h  backends, Services and Maglev tables the agent publishes for wsteerctl
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "wsteer_abi.h"
#include "lib/abi_map.h"
#include "lib/events.h"
#include "lib/flow_maps.h"
#include "lib/frame_walk.h"
#include "lib/published_maps.h"
#include "lib/stats.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Per-flow limit on bytes in the middle (redirected, not yet acknowledged by the peer's reader),
 * set by the agent before load (--splice-buffer-limit). 0: no limit, no backpressure. */
const volatile __u64 wsteer_flow_limit = 0;

/* Rebalance (--rebalance-above), set by the agent before load: 1 = walk the WebSocket frames a
 * backend socket receives and honour close requests. 0: flows pay nothing for it. */
const volatile __u8 wsteer_rebalance = 0;

/* The one tcp_sock field the verdict reads (the peer's bytes_acked), relocated by CO-RE against the running kernel's BTF
 * (no vmlinux.h needed): see docs/kernel-notes.md. */
struct tcp_sock___wsteer {
	__u64 bytes_acked;
} __attribute__((preserve_access_index));

/* Bytes the peer's reader has acknowledged since the flow was spliced (0 if the peer is gone). */
static __always_inline __u64 peer_delivered(__u64 peer_cookie, const struct wsteer_flow_ctl *ctl)
{
	struct bpf_sock *peer = bpf_map_lookup_elem(&wsteer_targets, &peer_cookie);
	if (!peer)
		return 0;
	__u64 acked = 0;
	struct tcp_sock___wsteer *tp = (struct tcp_sock___wsteer *)bpf_skc_to_tcp_sock(peer);
	if (tp)
		acked = tp->bytes_acked;
	bpf_sk_release(peer);
	return acked > ctl->peer_written_base ? acked - ctl->peer_written_base : 0;
}

/* Keeps an skb on the socket it arrived on (see "Backpressure" below). */
static __always_inline int hold(struct wsteer_flow_side *side, __u32 len)
{
	__sync_fetch_and_add(&side->held, len);
	wsteer_count(WSTEER_STAT_HELD, 0, len);
	return SK_PASS;
}

/*
 * Backpressure. A redirect never pushes back: the kernel queues redirected skbs on the peer's psock
 * backlog without limit, so a slow reader would park the difference in kernel memory. The verdict
 * therefore looks at how much of what it sent has not been acknowledged by the peer's reader yet
 * (redirected + relayed - peer's bytes_acked since the splice: backlog, send queue, in flight).
 * Past wsteer_flow_limit it asks the agent to *pause* the socket (WSTEER_EVENT_PAUSE): the agent
 * raises its SO_RCVLOWAT, so TCP stops calling this program and new bytes wait in the socket's own
 * receive queue, where they count against its window; when the peer has drained, the agent lowers
 * SO_RCVLOWAT again and the queued bytes come through here, still in the kernel.
 * TCP calls the program anyway when that queue nears the receive buffer (tcp_epollin_ready: memory
 * pressure beats SO_RCVLOWAT), so past twice the limit it stops redirecting and *holds* the skb
 * instead: SK_PASS puts it on this
 * socket's own psock queue, charged to its receive memory, so its TCP window closes and the sender
 * is slowed by TCP itself, as with a direct connection. Held bytes can leave that queue only through
 * recvmsg(), so the agent (woken through wsteer_events) relays them to the peer as fast as the peer
 * takes them, with the peer's send buffer as the only buffer. While anything held is not yet relayed,
 * every new skb must be held too, or it would overtake held bytes; once the agent has relayed
 * everything (ctl->relayed == side->held, checked here under the socket lock that serialises this
 * program per socket) the next skb goes back to the kernel path.
 * Why not pause by leaving the sockhash: see docs/kernel-notes.md.
 */
SEC("sk_skb")
int wsteer_splice_verdict(struct __sk_buff *skb)
{
	/* A FIN arrives as a zero-length skb. Redirecting it makes the peer's backlog call the send
	 * path with length 0, which fails with EPIPE on the peer. TCP already recorded the FIN; the
	 * agent sees the hang-up and propagates it once the peer has sent everything. */
	if (skb->len == 0) {
		wsteer_count(WSTEER_STAT_ZERO_LEN, 0, 0);
		return SK_DROP;
	}

	__u64 cookie = bpf_get_socket_cookie(skb);
	struct wsteer_flow_side *side = bpf_map_lookup_elem(&wsteer_flows, &cookie);
	if (!side) {
		/* Not ours (the agent inserts the flow before the socket): leave it to its owner. */
		wsteer_count(WSTEER_STAT_NO_FLOW, 0, 0);
		return SK_PASS;
	}

	__u32 len = skb->len;
	struct wsteer_flow_ctl *ctl = NULL;
	if (wsteer_flow_limit || wsteer_rebalance)
		ctl = bpf_map_lookup_elem(&wsteer_flow_ctl, &cookie);

	/*
	 * Rebalance. The agent asked to close this flow (ctl->close): from this skb on, hold every
	 * byte the backend sends, for good. The frame state then stays as it was after the last byte
	 * that went through here, so the agent knows where the frame in progress ends: it relays the
	 * held bytes up to that boundary, writes its close frame behind them and drops the rest.
	 * Otherwise walk this skb's frames before it leaves, redirected or held for backpressure.
	 */
	if (wsteer_rebalance && side->direction == WSTEER_DIR_BACKEND_TO_CLIENT) {
		if (ctl && ctl->close) {
			if (!side->closing) {
				side->close_held_base = side->held;
				side->closing = 1;
				wsteer_count(WSTEER_STAT_CLOSE_HOLD, 0, 0);
				wsteer_notify(cookie, WSTEER_EVENT_CLOSING);
			}
			return hold(side, len); /* its atomic add orders the writes above before `held` */
		}
		if (!side->frames.lost && wsteer_frame_walk(skb, &side->frames) < 0)
			wsteer_count(WSTEER_STAT_FRAME_WALK_LOST, 0, 0);
	}

	if (wsteer_flow_limit) {
		if (ctl) {
			if (side->holding) {
				if (ctl->relayed < side->held)
					return hold(side, len);
				side->holding = 0; /* everything held was relayed: back to the kernel path */
			}
			__u64 sent = side->bytes + ctl->relayed;
			__u64 delivered = peer_delivered(side->peer_cookie, ctl);
			__u64 middle = sent > delivered ? sent - delivered : 0;
			if (middle > 2 * wsteer_flow_limit) {
				side->holding = 1;
				wsteer_count(WSTEER_STAT_HOLD_START, 0, 0);
				wsteer_notify(cookie, WSTEER_EVENT_HOLD);
				return hold(side, len);
			}
			if (middle > wsteer_flow_limit && !side->pausing) {
				side->pausing = 1;
				wsteer_notify(cookie, WSTEER_EVENT_PAUSE);
			} else if (middle <= wsteer_flow_limit) {
				side->pausing = 0;
			}
		}
	}

	__u32 dir = side->direction == WSTEER_DIR_BACKEND_TO_CLIENT ? WSTEER_DIR_BACKEND_TO_CLIENT
								    : WSTEER_DIR_CLIENT_TO_BACKEND;
	__u64 peer = side->peer_cookie;
	long verdict = bpf_sk_redirect_hash(skb, &wsteer_targets, &peer, 0);
	if (verdict != SK_PASS) {
		__sync_fetch_and_add(&side->redirect_failures, 1);
		wsteer_count(WSTEER_STAT_REDIRECT_FAILURE, dir, len);
		return SK_DROP;
	}

	__sync_fetch_and_add(&side->bytes, len);
	__sync_fetch_and_add(&side->skbs, 1);
	wsteer_count(WSTEER_STAT_REDIRECTED, dir, len);
	wsteer_count_backend(side->backend_id, dir, len);
	return SK_PASS;
}
