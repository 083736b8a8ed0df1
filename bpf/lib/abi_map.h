/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * wsteer_abi: one slot holding the WSTEER_ABI_VERSION of the agent that created the pinned maps. No
 * program reads it: it is pinned with the other maps so that a successor agent (hand-off) can tell,
 * before it reuses them, whether their layout is the one it was built for.
 */
#ifndef WSTEER_LIB_ABI_MAP_H
#define WSTEER_LIB_ABI_MAP_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} wsteer_abi SEC(".maps");

#endif
