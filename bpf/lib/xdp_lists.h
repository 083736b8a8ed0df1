/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The XDP guard's allow and deny lists: longest-prefix-match tries, one per family and list. */
#ifndef WSTEER_BPF_LIB_XDP_LISTS_H
#define WSTEER_BPF_LIB_XDP_LISTS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "wsteer_abi.h"
#include "lib/xdp_parse.h"

#define WSTEER_XDP_LPM(name, key_type)                      \
	struct {                                            \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);        \
		__uint(max_entries, WSTEER_XDP_MAX_CIDRS);  \
		__uint(map_flags, BPF_F_NO_PREALLOC);       \
		__type(key, key_type);                      \
		__type(value, __u32);                       \
	} name SEC(".maps")

/* wsteer_xdp_deny4/6: CIDRs whose frames to a listen port are all dropped; value: enum
 * wsteer_xdp_origin. Written by the agent (config, at start) and wsteerctl xdp deny|undeny. */
WSTEER_XDP_LPM(wsteer_xdp_deny4, struct wsteer_xdp_lpm4);
WSTEER_XDP_LPM(wsteer_xdp_deny6, struct wsteer_xdp_lpm6);
/* wsteer_xdp_allow4/6: CIDRs exempt from every check (deny list, SYN rate, connection cap).
 * Written by the agent (config, at start) and wsteerctl xdp allow|undeny. */
WSTEER_XDP_LPM(wsteer_xdp_allow4, struct wsteer_xdp_lpm4);
WSTEER_XDP_LPM(wsteer_xdp_allow6, struct wsteer_xdp_lpm6);

static __always_inline int wsteer_xdp_listed(void *trie4, void *trie6, const struct wsteer_xdp_packet *pkt)
{
	if (pkt->is_v6) {
		struct wsteer_xdp_lpm6 key = {.prefixlen = 128};
		__builtin_memcpy(key.addr, pkt->saddr6, 16);
		return bpf_map_lookup_elem(trie6, &key) != 0;
	}
	struct wsteer_xdp_lpm4 key = {.prefixlen = 32};
	__builtin_memcpy(key.addr, &pkt->saddr4, 4);
	return bpf_map_lookup_elem(trie4, &key) != 0;
}

static __always_inline int wsteer_xdp_allowed(const struct wsteer_xdp_packet *pkt)
{
	return wsteer_xdp_listed(&wsteer_xdp_allow4, &wsteer_xdp_allow6, pkt);
}

static __always_inline int wsteer_xdp_denied(const struct wsteer_xdp_packet *pkt)
{
	return wsteer_xdp_listed(&wsteer_xdp_deny4, &wsteer_xdp_deny6, pkt);
}

#endif
