/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Frame parsing for the XDP guard: Ethernet, IPv4 or IPv6, TCP. No maps. Reads only what the
 * verifier has seen bounds-checked against data_end.
 */
#ifndef WSTEER_BPF_LIB_XDP_PARSE_H
#define WSTEER_BPF_LIB_XDP_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "wsteer_abi.h"

/* What the guard needs of a TCP segment. */
struct wsteer_xdp_packet {
	struct wsteer_xdp_source source; /* IPv4 as ::ffff:a.b.c.d, IPv6 masked to /64 */
	__u8 saddr6[16];                 /* the full IPv6 source, for the allow/deny tries */
	__be32 saddr4;
	__u16 dport;          /* host byte order */
	__u8 is_v6;
	__u8 new_connection;  /* SYN without ACK */
	__u8 malformed;       /* ports readable, but the rest of the headers is not sound */
};

/* 802.1Q and 802.1ad: a VLAN-tagged frame belongs to whoever handles that VLAN; not ours to judge. */
static __always_inline int wsteer_xdp_is_vlan(__be16 proto)
{
	return proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD);
}

/*
 * The TCP part, shared by both families. `l4` is where the TCP header starts, `l4_len` how many
 * bytes the IP header says follow it (may exceed what the frame holds: then it is truncated).
 * Returns 0 when the ports could not be read (nothing to judge), 1 otherwise.
 */
static __always_inline int wsteer_xdp_parse_tcp(void *l4, void *data_end, __u32 l4_len,
						struct wsteer_xdp_packet *pkt)
{
	struct tcphdr *tcp = l4;
	if ((void *)tcp + 4 > data_end)
		return 0; /* not even the ports: cannot be to a port we guard as far as we can tell */
	pkt->dport = bpf_ntohs(tcp->dest);
	if ((void *)(tcp + 1) > data_end) {
		pkt->malformed = 1; /* truncated TCP header */
		return 1;
	}
	__u32 hlen = tcp->doff * 4;
	if (tcp->doff < 5 || l4_len < hlen || l4 + hlen > data_end ||
	    (__u64)(data_end - l4) < (__u64)l4_len) {
		pkt->malformed = 1; /* bad doff, or the segment is shorter than its headers claim */
		return 1;
	}
	pkt->new_connection = tcp->syn && !tcp->ack;
	return 1;
}

static __always_inline int wsteer_xdp_parse_ipv4(void *l3, void *data_end, struct wsteer_xdp_packet *pkt)
{
	struct iphdr *ip = l3;
	if ((void *)(ip + 1) > data_end)
		return 0; /* truncated before the addresses: no port to judge; the stack drops it */
	if (ip->protocol != IPPROTO_TCP)
		return 0;
	if (ip->frag_off & bpf_htons(0x1fff))
		return 0; /* a later fragment carries no TCP header */
	pkt->saddr4 = ip->saddr;
	pkt->source.addr[10] = 0xff;
	pkt->source.addr[11] = 0xff;
	__builtin_memcpy(&pkt->source.addr[12], &ip->saddr, 4);
	/* IHL under 5 cannot even hold the header: read the ports where a minimal header ends, so a
	 * flood of such frames at our port is still seen and dropped as malformed. */
	__u32 ihl = ip->ihl;
	__u32 hlen = ihl < 5 ? 20 : ihl * 4;
	__u32 tot = bpf_ntohs(ip->tot_len);
	void *l4 = l3 + hlen;
	int ok = wsteer_xdp_parse_tcp(l4, data_end, tot > hlen ? tot - hlen : 0, pkt);
	if (ok && (ihl < 5 || tot < hlen))
		pkt->malformed = 1;
	return ok;
}

static __always_inline int wsteer_xdp_parse_ipv6(void *l3, void *data_end, struct wsteer_xdp_packet *pkt)
{
	struct ipv6hdr *ip6 = l3;
	if ((void *)(ip6 + 1) > data_end)
		return 0;
	/* Extension headers are not walked: a TCP segment behind one passes unjudged. */
	if (ip6->nexthdr != IPPROTO_TCP)
		return 0;
	pkt->is_v6 = 1;
	__builtin_memcpy(pkt->saddr6, &ip6->saddr, 16);
	__builtin_memcpy(pkt->source.addr, &ip6->saddr, 8); /* the /64 */
	return wsteer_xdp_parse_tcp(ip6 + 1, data_end, bpf_ntohs(ip6->payload_len), pkt);
}

/*
 * Returns a pass reason when the frame is not ours to judge (WSTEER_XDP_PASS_NOT_GUARDED or
 * WSTEER_XDP_PASS_VLAN), or -1 with `pkt` filled in: a TCP segment whose destination port was
 * read (the caller checks it against the listen ports).
 */
static __always_inline int wsteer_xdp_parse(void *data, void *data_end, struct wsteer_xdp_packet *pkt)
{
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return WSTEER_XDP_PASS_NOT_GUARDED;
	if (wsteer_xdp_is_vlan(eth->h_proto))
		return WSTEER_XDP_PASS_VLAN;
	int ok = 0;
	if (eth->h_proto == bpf_htons(ETH_P_IP))
		ok = wsteer_xdp_parse_ipv4(eth + 1, data_end, pkt);
	else if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		ok = wsteer_xdp_parse_ipv6(eth + 1, data_end, pkt);
	return ok ? -1 : WSTEER_XDP_PASS_NOT_GUARDED;
}

#endif
