/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* events.h: the ring buffer through which the verdict wakes the agent (struct wsteer_event). */
#ifndef WSTEER_BPF_LIB_EVENTS_H
#define WSTEER_BPF_LIB_EVENTS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "wsteer_abi.h"

/* wsteer_events: a flow started holding, should pause, or is held for a close. Read by the agent
 * (SpliceDatapath::consume_events). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} wsteer_events SEC(".maps");

/* bpf_ringbuf_output fails when the ring is full and the record is then lost; a record takes 24
 * bytes with its header, so the ring holds about 10,000 unread ones. */
static __always_inline void wsteer_notify(__u64 cookie, enum wsteer_event_kind kind)
{
	struct wsteer_event ev = {.cookie = cookie, .kind = kind};
	bpf_ringbuf_output(&wsteer_events, &ev, sizeof(ev), 0);
}

#endif
