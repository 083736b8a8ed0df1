/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xdp_guard.bpf.c: the node's front door. Attached by the agent (--xdp-interfaces) to the ingress
 * of the interfaces clients arrive on, it judges only TCP to the agent's listen ports, before the
 * kernel allocates anything for the frame:
 *   malformed headers -> drop; allow list -> pass; deny list -> drop; not a new connection -> pass;
 *   a SYN from a source at its connection cap or over its SYN rate -> drop; else pass.
 * Established traffic is never dropped by the limits. Every verdict is counted by reason.
 * Maps: lib/xdp_*.h, each with who writes it; layouts in wsteer_abi.h.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "wsteer_abi.h"
#include "lib/xdp_config.h"
#include "lib/xdp_counters.h"
#include "lib/xdp_lists.h"
#include "lib/xdp_parse.h"
#include "lib/xdp_ports.h"
#include "lib/xdp_sources.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int wsteer_xdp_guard(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct wsteer_xdp_packet pkt = {};

	int not_ours = wsteer_xdp_parse(data, data_end, &pkt);
	if (not_ours >= 0)
		return wsteer_xdp_verdict(not_ours);
	if (!wsteer_xdp_port_guarded(pkt.dport))
		return wsteer_xdp_verdict(WSTEER_XDP_PASS_NOT_GUARDED);
	if (pkt.malformed)
		return wsteer_xdp_verdict(WSTEER_XDP_DROP_MALFORMED);
	if (wsteer_xdp_allowed(&pkt))
		return wsteer_xdp_verdict(WSTEER_XDP_PASS_ALLOWED);
	if (wsteer_xdp_denied(&pkt))
		return wsteer_xdp_verdict(WSTEER_XDP_DROP_DENIED);
	if (!pkt.new_connection)
		return wsteer_xdp_verdict(WSTEER_XDP_PASS_ESTABLISHED);

	const struct wsteer_xdp_config *cfg = wsteer_xdp_settings();
	if (!cfg || (!cfg->syn_cost_ns && !cfg->max_conns_per_source))
		return wsteer_xdp_verdict(WSTEER_XDP_PASS_SYN);
	__u64 now = bpf_ktime_get_ns();
	struct wsteer_xdp_source_state *st = wsteer_xdp_source_state(&pkt.source, cfg, now);
	if (!st)
		return wsteer_xdp_verdict(WSTEER_XDP_PASS_SYN); /* no state, no grounds to drop */
	st->syns += 1;
	/* The cap first: a SYN it refuses must not spend a token the source may need later. */
	if (wsteer_xdp_at_conn_cap(&pkt.source, cfg)) {
		st->cap_drops += 1;
		st->last_drop_ns = now;
		return wsteer_xdp_verdict(WSTEER_XDP_DROP_CONN_LIMIT);
	}
	if (!wsteer_xdp_take_token(st, cfg, now)) {
		st->rate_drops += 1;
		st->last_drop_ns = now;
		return wsteer_xdp_verdict(WSTEER_XDP_DROP_SYN_RATE);
	}
	return wsteer_xdp_verdict(WSTEER_XDP_PASS_SYN);
}
