/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * frame_walk.h: the verdict's WebSocket frame walker (rebalance). To close a spliced flow with a
 * close frame of its own, the agent must write it where a backend frame ends, yet the kernel, not
 * the agent, moves the bytes. So the verdict follows the frame boundaries of every skb a backend
 * socket receives (struct wsteer_frame_state in its wsteer_flows entry): bytes left in the current
 * frame, plus the first bytes of a header that an skb boundary cut in two.
 *
 * An skb may carry thousands of tiny frames, so the walk is a bpf_loop(), one frame header or one
 * payload run per iteration: the verifier checks the callback once instead of an unrolled loop
 * whose length it would have to prove. Bytes are read with bpf_skb_load_bytes (an sk_skb's
 * payload may lie in fragments, where direct packet access cannot reach). A walk that cannot
 * finish (more iterations than the cap, a failed load) marks the state lost: that flow's boundary
 * is unknown from then on, and the agent never closes it.
 */
#ifndef WSTEER_BPF_LIB_FRAME_WALK_H
#define WSTEER_BPF_LIB_FRAME_WALK_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "wsteer_abi.h"
#include "lib/ws_frame.h"

/* Each iteration consumes at least one byte; GRO skbs stay at 64 KiB unless BIG TCP is set up. */
#define WSTEER_FRAME_WALK_MAX_STEPS (1 << 17)

struct wsteer_frame_walk {
	struct __sk_buff *skb;
	__u32 off;
	__u32 len;
	/* The flow's own state in wsteer_flows: TCP runs the verdict for one socket at a time (under
	 * its lock), so nothing else writes it meanwhile. */
	struct wsteer_frame_state *st;
};

static long wsteer_frame_walk_step(__u32 index, void *data)
{
	struct wsteer_frame_walk *w = data;
	if (w->off >= w->len)
		return 1;
	__u32 avail = w->len - w->off;
	if (w->st->hdr_len == 0 && w->st->frame_left) {
		/* Inside a payload: skip what this skb holds of it. */
		__u64 n = w->st->frame_left < avail ? w->st->frame_left : avail;
		w->st->frame_left -= n;
		w->off += (__u32)n;
		return 0;
	}
	/* At a boundary or inside a header: read up to one header's worth and take bytes until the
	 * header is complete. */
	__u8 buf[WSTEER_WS_MAX_HEADER] = {};
	__u32 n = avail < WSTEER_WS_MAX_HEADER ? avail : WSTEER_WS_MAX_HEADER;
	/* Clang would hand the helper the unclamped register; make the bound one the verifier sees. */
	barrier_var(n);
	n &= 0xf;
	if (n == 0 || n > WSTEER_WS_MAX_HEADER || bpf_skb_load_bytes(w->skb, w->off, buf, n) < 0) {
		w->st->lost = 1;
		return 1;
	}
	__u32 used = 0;
	for (int i = 0; i < WSTEER_WS_MAX_HEADER; i++) {
		if ((__u32)i >= n)
			break;
		used++;
		if (wsteer_ws_header_byte(w->st, buf[i]))
			break;
	}
	w->off += used;
	return 0;
}

/* Advances `st` over the whole skb. Returns 0, or -1 when the walk gave up (st->lost set). */
static __always_inline int wsteer_frame_walk(struct __sk_buff *skb, struct wsteer_frame_state *st)
{
	if (st->lost)
		return -1;
	struct wsteer_frame_walk w = {.skb = skb, .off = 0, .len = skb->len, .st = st};
	__u32 steps = w.len + 1;
	if (steps > WSTEER_FRAME_WALK_MAX_STEPS)
		steps = WSTEER_FRAME_WALK_MAX_STEPS;
	bpf_loop(steps, wsteer_frame_walk_step, &w, 0);
	if (w.off < w.len)
		st->lost = 1;
	return st->lost ? -1 : 0;
}

#endif
