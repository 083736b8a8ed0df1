/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * published_maps.h: what the agent publishes about its steering, for wsteerctl (and an operator's
 * bpftool) to read from the pins. No BPF program reads these maps: steering happens in the agent
 * (agent/steering/), and the XDP guard (xdp_guard.bpf.c) filters SYNs without choosing backends.
 */
#ifndef WSTEER_BPF_LIB_PUBLISHED_MAPS_H
#define WSTEER_BPF_LIB_PUBLISHED_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "wsteer_abi.h"

/* wsteer_backends: backend id -> name, address, state, weight. Written by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WSTEER_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct wsteer_backend_info);
} wsteer_backends SEC(".maps");

/* wsteer_services: service index -> name, listen address, where its Maglev table starts. Written
 * by the agent at start. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WSTEER_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct wsteer_service_info);
} wsteer_services SEC(".maps");

/* wsteer_maglev: Maglev slot -> backend id, the agent's current lookup tables, one after another
 * (one per Service, see wsteer_services). The agent sets the size before load (--maglev-size times
 * the number of Services) and rewrites a Service's slice on every rebuild. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WSTEER_MAGLEV_DEFAULT_SIZE);
	__type(key, __u32);
	__type(value, __u32);
} wsteer_maglev SEC(".maps");

#endif
