/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The XDP guard's limits, as the agent configured them. */
#ifndef WSTEER_BPF_LIB_XDP_CONFIG_H
#define WSTEER_BPF_LIB_XDP_CONFIG_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "wsteer_abi.h"

/* wsteer_xdp_config: one struct wsteer_xdp_config (SYN rate and burst, connection cap). Written
 * by the agent before it attaches the program; read by the guard and wsteerctl xdp status. A map
 * rather than .rodata so wsteerctl can show it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct wsteer_xdp_config);
} wsteer_xdp_config SEC(".maps");

static __always_inline const struct wsteer_xdp_config *wsteer_xdp_settings(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&wsteer_xdp_config, &zero);
}

#endif
