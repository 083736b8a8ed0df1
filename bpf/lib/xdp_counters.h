/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The XDP guard's verdict counters. */
#ifndef WSTEER_BPF_LIB_XDP_COUNTERS_H
#define WSTEER_BPF_LIB_XDP_COUNTERS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "wsteer_abi.h"

/* wsteer_xdp_counters: frames per enum wsteer_xdp_reason (each reason is one action), per CPU.
 * Written by the XDP guard; summed by the agent (/metrics) and wsteerctl xdp status. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WSTEER_XDP_REASON_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} wsteer_xdp_counters SEC(".maps");

/* Counts the frame under `reason` and returns the action that reason stands for. */
static __always_inline int wsteer_xdp_verdict(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&wsteer_xdp_counters, &reason);
	if (n)
		*n += 1; /* per-CPU slot: one writer at a time */
	return reason >= WSTEER_XDP_DROP_DENIED ? XDP_DROP : XDP_PASS;
}

#endif
