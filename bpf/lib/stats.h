/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-CPU counter helpers: a per-CPU slot is written by one CPU at a time, so plain adds suffice. */
#ifndef WSTEER_BPF_LIB_STATS_H
#define WSTEER_BPF_LIB_STATS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "wsteer_abi.h"

/* wsteer_stats: node-wide verdict counters, written by the verdict, summed by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct wsteer_stats);
} wsteer_stats SEC(".maps");

/* wsteer_backend_counters: bytes and skbs per backend and direction, written by the verdict. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WSTEER_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct wsteer_backend_counters);
} wsteer_backend_counters SEC(".maps");

static __always_inline struct wsteer_stats *wsteer_stats_slot(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&wsteer_stats, &zero);
}

#endif
