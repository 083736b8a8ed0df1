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
#include "lib/frame_walk.h"

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

/* wsteer_flow_ctl: per spliced socket, what the agent tells the verdict for backpressure (the base
 * of its peer's byte count, the held bytes it relayed). Written by the agent only. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WSTEER_MAX_FLOW_SOCKETS);
	__type(key, __u64);
	__type(value, struct wsteer_flow_ctl);
} wsteer_flow_ctl SEC(".maps");

/* wsteer_events: the verdict wakes the agent when a flow starts holding (struct wsteer_event). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} wsteer_events SEC(".maps");

/* Per-flow limit on bytes in the middle (redirected, not yet acknowledged by the peer's reader),
 * set by the agent before load (--splice-buffer-limit). 0: no limit, no backpressure. */
const volatile __u64 wsteer_flow_limit = 0;

/* Rebalance (--rebalance-above), set by the agent before load: 1 = walk the WebSocket frames a
 * backend socket receives and honour close requests. 0: flows pay nothing for it. */
const volatile __u8 wsteer_rebalance = 0;

/* The two tcp_sock fields the verdict reads, relocated by CO-RE against the running kernel's BTF
 * (no vmlinux.h needed): see docs/kernel-notes.md. */
struct tcp_sock___wsteer {
	__u64 bytes_acked;
} __attribute__((preserve_access_index));

/* wsteer_backends: backend id -> name, address, state, weight. Written by the agent for wsteerctl. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WSTEER_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct wsteer_backend_info);
} wsteer_backends SEC(".maps");

/* wsteer_services: service index -> name, listen address, where its Maglev table starts. Written
 * by the agent at start for wsteerctl. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WSTEER_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct wsteer_service_info);
} wsteer_services SEC(".maps");

/* wsteer_maglev: Maglev slot -> backend id, the agent's current lookup tables, one after another
 * (one per Service, see wsteer_services). The agent sets the size before load and rewrites a
 * Service's table on every rebuild; wsteerctl reads it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WSTEER_MAGLEV_DEFAULT_SIZE);
	__type(key, __u32);
	__type(value, __u32);
} wsteer_maglev SEC(".maps");

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

/* Keeps an skb on the socket it arrived on (see "Backpressure" above the verdict). */
static __always_inline int hold(struct wsteer_flow_side *side, struct wsteer_stats *stats, __u32 len)
{
	__sync_fetch_and_add(&side->held, len);
	if (stats)
		stats->held_bytes += len;
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
				if (stats)
					stats->close_holds++;
				struct wsteer_event ev = {.cookie = cookie, .kind = WSTEER_EVENT_CLOSING};
				bpf_ringbuf_output(&wsteer_events, &ev, sizeof(ev), 0);
			}
			return hold(side, stats, len); /* its atomic add orders the writes above before `held` */
		}
		if (!side->frames.lost && wsteer_frame_walk(skb, &side->frames) < 0 && stats)
			stats->frame_walks_lost++;
	}

	if (wsteer_flow_limit) {
		if (ctl) {
			if (side->holding) {
				if (ctl->relayed < side->held)
					return hold(side, stats, len);
				side->holding = 0; /* everything held was relayed: back to the kernel path */
			}
			__u64 sent = side->bytes + ctl->relayed;
			__u64 delivered = peer_delivered(side->peer_cookie, ctl);
			__u64 middle = sent > delivered ? sent - delivered : 0;
			if (middle > 2 * wsteer_flow_limit) {
				side->holding = 1;
				if (stats)
					stats->holds++;
				struct wsteer_event ev = {.cookie = cookie, .kind = WSTEER_EVENT_HOLD};
				bpf_ringbuf_output(&wsteer_events, &ev, sizeof(ev), 0);
				return hold(side, stats, len);
			}
			if (middle > wsteer_flow_limit && !side->pausing) {
				side->pausing = 1;
				struct wsteer_event ev = {.cookie = cookie, .kind = WSTEER_EVENT_PAUSE};
				bpf_ringbuf_output(&wsteer_events, &ev, sizeof(ev), 0);
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
