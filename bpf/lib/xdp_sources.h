/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-source state of the XDP guard: the SYN token bucket and the open-connection counts. */
#ifndef WSTEER_BPF_LIB_XDP_SOURCES_H
#define WSTEER_BPF_LIB_XDP_SOURCES_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "wsteer_abi.h"

/* wsteer_xdp_sources: per source that sent a SYN to a listen port, its token bucket and drop
 * counters. Written by the guard only (an LRU map: a flood of spoofed sources evicts the oldest
 * instead of filling up); read by wsteerctl xdp top. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, WSTEER_XDP_MAX_SOURCES);
	__type(key, struct wsteer_xdp_source);
	__type(value, struct wsteer_xdp_source_state);
} wsteer_xdp_sources SEC(".maps");

/* wsteer_xdp_conns: per source, the client connections the agent holds open now (__u32).
 * Written by the agent (+1 on accept, -1 on close, deleted at 0); read by the guard. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WSTEER_XDP_MAX_SOURCES);
	__type(key, struct wsteer_xdp_source);
	__type(value, __u32);
} wsteer_xdp_conns SEC(".maps");

/* The source's state, created with a full bucket on its first SYN. Null only if the map refuses. */
static __always_inline struct wsteer_xdp_source_state *
wsteer_xdp_source_state(const struct wsteer_xdp_source *src, const struct wsteer_xdp_config *cfg, __u64 now)
{
	struct wsteer_xdp_source_state *st = bpf_map_lookup_elem(&wsteer_xdp_sources, src);
	if (st)
		return st;
	struct wsteer_xdp_source_state fresh = {.credit_ns = cfg->syn_burst_ns, .refilled_ns = now};
	bpf_map_update_elem(&wsteer_xdp_sources, src, &fresh, BPF_NOEXIST);
	return bpf_map_lookup_elem(&wsteer_xdp_sources, src);
}

/*
 * Token bucket kept as nanoseconds of credit: time adds credit up to the burst, a SYN costs
 * 1e9/rate. Two CPUs updating one source at once may lose an update (no lock: this runs per
 * packet under a flood), which lets a few extra SYNs through; it never drops a SYN the bucket owes.
 */
static __always_inline int wsteer_xdp_take_token(struct wsteer_xdp_source_state *st,
						 const struct wsteer_xdp_config *cfg, __u64 now)
{
	if (!cfg->syn_cost_ns)
		return 1;
	__u64 credit = st->credit_ns + (now > st->refilled_ns ? now - st->refilled_ns : 0);
	if (credit > cfg->syn_burst_ns)
		credit = cfg->syn_burst_ns;
	st->refilled_ns = now;
	if (credit < cfg->syn_cost_ns) {
		st->credit_ns = credit;
		return 0;
	}
	st->credit_ns = credit - cfg->syn_cost_ns;
	return 1;
}

/* Whether the source already holds the connections it may have. */
static __always_inline int wsteer_xdp_at_conn_cap(const struct wsteer_xdp_source *src,
						  const struct wsteer_xdp_config *cfg)
{
	if (!cfg->max_conns_per_source)
		return 0;
	__u32 *open = bpf_map_lookup_elem(&wsteer_xdp_conns, src);
	return open && *open >= cfg->max_conns_per_source;
}

#endif
