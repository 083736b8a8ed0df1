/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * stats.h: the verdict's per-CPU counters and the one helper that writes them. A per-CPU slot is
 * written only by programs running on its CPU, so plain adds suffice; the readers (the agent and
 * wsteerctl, both through agent/datapath/splice_maps.cpp) sum the CPUs.
 */
#ifndef WSTEER_BPF_LIB_STATS_H
#define WSTEER_BPF_LIB_STATS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "wsteer_abi.h"

/* wsteer_stats: node-wide verdict counters (struct wsteer_stats), one per-CPU entry. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct wsteer_stats);
} wsteer_stats SEC(".maps");

/* wsteer_backend_counters: bytes and skbs per backend and direction. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WSTEER_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct wsteer_backend_counters);
} wsteer_backend_counters SEC(".maps");

/* What happened, one value per counter of struct wsteer_stats. */
enum wsteer_stat {
	WSTEER_STAT_REDIRECTED,       /* an skb of `len` bytes went to the peer: bytes[dir], skbs[dir] */
	WSTEER_STAT_REDIRECT_FAILURE, /* the kernel refused the redirect (peer gone): dropped */
	WSTEER_STAT_ZERO_LEN,         /* a FIN's zero-length skb: dropped */
	WSTEER_STAT_NO_FLOW,          /* a socket with no wsteer_flows entry: passed to its owner */
	WSTEER_STAT_HELD,             /* `len` bytes kept on their socket for the agent to relay */
	WSTEER_STAT_HOLD_START,       /* backpressure: a flow started holding */
	WSTEER_STAT_CLOSE_HOLD,       /* rebalance: a flow started holding for a close */
	WSTEER_STAT_FRAME_WALK_LOST,  /* rebalance: a flow's frame walk gave up */
};

/* Counts one event in this CPU's wsteer_stats; `dir` (enum wsteer_direction) and `len` matter only
 * where the event above names them. Every count of the verdict goes through here. */
static __always_inline void wsteer_count(enum wsteer_stat what, __u32 dir, __u32 len)
{
	__u32 zero = 0;
	struct wsteer_stats *s = bpf_map_lookup_elem(&wsteer_stats, &zero);
	if (!s)
		return;
	switch (what) {
	case WSTEER_STAT_REDIRECTED:
		if (dir < WSTEER_DIR_COUNT) {
			s->bytes[dir] += len;
			s->skbs[dir]++;
		}
		break;
	case WSTEER_STAT_REDIRECT_FAILURE:
		s->redirect_failures++;
		break;
	case WSTEER_STAT_ZERO_LEN:
		s->zero_len_dropped++;
		break;
	case WSTEER_STAT_NO_FLOW:
		s->no_flow++;
		break;
	case WSTEER_STAT_HELD:
		s->held_bytes += len;
		break;
	case WSTEER_STAT_HOLD_START:
		s->holds++;
		break;
	case WSTEER_STAT_CLOSE_HOLD:
		s->close_holds++;
		break;
	case WSTEER_STAT_FRAME_WALK_LOST:
		s->frame_walks_lost++;
		break;
	}
}

/* Adds a redirected skb to its backend's per-CPU counters. */
static __always_inline void wsteer_count_backend(__u32 backend_id, __u32 dir, __u32 len)
{
	struct wsteer_backend_counters *bc = bpf_map_lookup_elem(&wsteer_backend_counters, &backend_id);
	if (!bc || dir >= WSTEER_DIR_COUNT)
		return;
	bc->bytes[dir] += len;
	bc->skbs[dir]++;
}

#endif
