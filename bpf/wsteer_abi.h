/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * wsteer_abi.h: every BPF map key and value shared by the BPF programs (the .bpf.c files here) and the
 * C++ agent and wsteerctl. Fixed-width types, explicit padding, no implicit holes: the layout is
 * checked by tests/unit/abi_test.cpp. Never copy one of these structs by hand into C++.
 */
#ifndef WSTEER_ABI_H
#define WSTEER_ABI_H

#include <linux/types.h>

/* Sizes of the maps. Backend ids are small integers handed out by the agent (steering/). */
#define WSTEER_MAX_BACKENDS 1024
/* Two sockets per spliced flow. */
#define WSTEER_MAX_FLOW_SOCKETS 262144
/* Default and upper bound of a Service's Maglev table (a prime). The agent steers with its own copy and
 * publishes it in wsteer_maglev for wsteerctl; no BPF program reads it. */
#define WSTEER_MAGLEV_DEFAULT_SIZE 65537
#define WSTEER_MAGLEV_MAX_SIZE 1048573
#define WSTEER_BACKEND_NAME_LEN 64
/* Services one agent balances (each with its own listener, backend set and Maglev table). */
#define WSTEER_MAX_SERVICES 64
#define WSTEER_SERVICE_NAME_LEN 128
/*
 * The layout of the splice datapath's maps (every struct and map below). A new agent adopts a running
 * agent's pinned maps (hand-off, docs/handoff.md) only if the version pinned in wsteer_abi equals its
 * own: bump it whenever a pinned map's key, value or meaning changes.
 */
#define WSTEER_ABI_VERSION 1

/* Which way a socket's received bytes travel. */
enum wsteer_direction {
	WSTEER_DIR_CLIENT_TO_BACKEND = 0, /* the socket is the client's: its bytes go to the backend */
	WSTEER_DIR_BACKEND_TO_CLIENT = 1, /* the socket is the backend's: its bytes go to the client */
	WSTEER_DIR_COUNT = 2,
};

/*
 * Rebalance: where the WebSocket frames are in the bytes a backend socket received (the verdict walks
 * them, see lib/frame_walk.h). The stream is at a frame boundary when frame_left == 0 and hdr_len == 0.
 */
struct wsteer_frame_state {
	__u64 frame_left; /* payload bytes of the current frame still to come */
	__u8 hdr[16];     /* the first hdr_len bytes of a header that straddles two skbs (at most 14 used) */
	__u8 hdr_len;     /* 0: not inside a header */
	__u8 lost;        /* 1: the walker gave up (skb too long to walk): the flow is never closed by rebalance */
	__u8 pad0[6];
};

/*
 * Value of wsteer_flows, keyed by a socket's cookie (__u64, bpf_get_socket_cookie / SO_COOKIE).
 * One entry per spliced socket; the verdict program adds to the counters of the socket the bytes
 * arrived on, so the two directions of a flow never write the same entry.
 */
struct wsteer_flow_side {
	__u64 peer_cookie;       /* the socket this one's bytes are redirected to */
	__u64 bytes;             /* payload bytes received here and redirected to the peer */
	__u64 skbs;              /* skbs redirected */
	__u64 redirect_failures; /* redirects the kernel refused (peer gone) */
	__u64 created_ns;        /* CLOCK_MONOTONIC (bpf_ktime_get_ns()'s clock) when the agent added the flow */
	__u8 client_addr[16];    /* the client's address, IPv4 as ::ffff:a.b.c.d */
	__u16 client_port;       /* host byte order */
	__u8 direction;          /* enum wsteer_direction */
	__u8 holding;            /* backpressure: 1 while the verdict keeps this socket's bytes (see splice.bpf.c) */
	__u32 backend_id;        /* index into wsteer_backend_counters / wsteer_backends */
	__u64 held;              /* bytes the verdict kept on this socket for the agent to relay (backpressure) */
	__u8 pausing;            /* backpressure: 1 once the verdict asked the agent to pause this socket */
	__u8 pad1[7];
	/* Rebalance (backend sockets only, with --rebalance-above set). `closing` is written before
	 * `held` grows, and lies after it: a reader copying the struct in order never sees a `held`
	 * that includes close-held bytes next to closing == 0. */
	struct wsteer_frame_state frames; /* frame boundaries of the bytes seen so far; frozen once closing */
	__u64 close_held_base;   /* `held` when the verdict first saw the close request */
	__u8 closing;            /* 1: the agent asked to close; every later skb is held for it */
	__u8 pad2[7];
};

/*
 * Value of wsteer_flow_ctl, keyed by a spliced socket's cookie. Written only by the agent (a whole-value
 * update from userspace would lose the verdict's concurrent counter increments in wsteer_flows),
 * read by the verdict.
 */
struct wsteer_flow_ctl {
	__u64 peer_written_base; /* the peer's bytes written (acked + SIOCOUTQ) when the flow was spliced */
	__u64 relayed;           /* held bytes the agent has written to the peer */
	__u8 close;              /* rebalance: 1 = hold every byte from now on, the agent closes the flow */
	__u8 pad0[7];
};

/* Kinds of wsteer_events records. */
enum wsteer_event_kind {
	WSTEER_EVENT_HOLD = 1,  /* the verdict started holding a socket's bytes: its peer is far over the limit */
	WSTEER_EVENT_PAUSE = 2, /* a socket's peer went over the limit: stop feeding the verdict for a while */
	WSTEER_EVENT_CLOSING = 3, /* rebalance: the verdict saw a close request and holds the socket's bytes */
};

/* A wsteer_events ring buffer record. */
struct wsteer_event {
	__u64 cookie; /* the socket the event is about (whose bytes are held, or whose peer is over the limit) */
	__u32 kind;   /* enum wsteer_event_kind */
	__u32 pad0;
};


/* Value of wsteer_backend_counters (per-CPU array indexed by backend id). */
struct wsteer_backend_counters {
	__u64 bytes[WSTEER_DIR_COUNT];
	__u64 skbs[WSTEER_DIR_COUNT];
};

/* Value of wsteer_stats (per-CPU array with one entry): node-wide verdict counters. */
struct wsteer_stats {
	__u64 bytes[WSTEER_DIR_COUNT];
	__u64 skbs[WSTEER_DIR_COUNT];
	__u64 redirect_failures;
	__u64 zero_len_dropped; /* FIN skbs: dropped, userspace propagates the close */
	__u64 no_flow;          /* skbs on a socket with no wsteer_flows entry: passed to its owner */
	__u64 held_bytes;       /* backpressure: bytes kept for the agent to relay once the peer drains */
	__u64 holds;            /* backpressure: times a flow started holding */
	__u64 frame_walks_lost; /* rebalance: flows whose frame walk gave up (never closed by rebalance) */
	__u64 close_holds;      /* rebalance: flows the verdict started holding for a close */
};

/* Backend states as the agent publishes them in wsteer_backends. */
enum wsteer_backend_state {
	WSTEER_BACKEND_UNUSED = 0,
	WSTEER_BACKEND_ACTIVE = 1,
	WSTEER_BACKEND_DRAINING = 2,
	WSTEER_BACKEND_UNHEALTHY = 3,
};

/* Value of wsteer_backends (array indexed by backend id), written by the agent for wsteerctl. */
struct wsteer_backend_info {
	char name[WSTEER_BACKEND_NAME_LEN];
	__u8 addr[16]; /* IPv4 as ::ffff:a.b.c.d */
	__u16 port;    /* host byte order */
	__u8 state;    /* enum wsteer_backend_state */
	__u8 pad0;
	__u32 weight;
	__u32 max_connections; /* 0: unlimited */
	__u32 service;         /* index into wsteer_services of the Service this backend belongs to */
	/* The agent's connection accounting, mirrored every second so wsteerctl can show it (and the
	 * last values before an agent stopped) straight from the map. */
	__u64 active_connections; /* client connections on this backend now */
	__u64 total_connections;  /* connections relayed to it since the agent started */
	__u64 connect_failures;   /* failed connects/handshakes since the agent started */
};

/*
 * Value of wsteer_services (array indexed by service index), written by the agent for wsteerctl:
 * one entry per Service the agent balances, in configuration order. The Service's Maglev table
 * is the slice [maglev_offset, maglev_offset + maglev_size) of wsteer_maglev.
 */
struct wsteer_service_info {
	char name[WSTEER_SERVICE_NAME_LEN]; /* "namespace/name" of a Kubernetes Service, or a file service's name */
	__u8 listen_addr[16];               /* where its clients connect; IPv4 as ::ffff:a.b.c.d */
	__u16 listen_port;                  /* host byte order */
	__u8 in_use;                        /* 1 for a configured service */
	__u8 pad0;
	__u32 maglev_offset;
	__u32 maglev_size;
	__u32 pad1;
};

/*
 * XDP front door (bpf/xdp_guard.bpf.c, agent/datapath/xdp_guard.*): maps pinned in <bpffs>/xdp/.
 * A source is one IPv4 address (as ::ffff:a.b.c.d) or one IPv6 /64 (the last 8 bytes zero).
 */
#define WSTEER_XDP_MAX_PORTS 64
#define WSTEER_XDP_MAX_SOURCES 65536
#define WSTEER_XDP_MAX_CIDRS 16384

/* Why the guard let a frame through or dropped it: the index of wsteer_xdp_counters. Each reason
 * belongs to exactly one action (wsteer_xdp_reason_drops). */
enum wsteer_xdp_reason {
	WSTEER_XDP_PASS_NOT_GUARDED = 0, /* not IPv4/IPv6 TCP to a listen port (or a later IPv4 fragment) */
	WSTEER_XDP_PASS_VLAN = 1,        /* VLAN-tagged: passed untouched */
	WSTEER_XDP_PASS_ALLOWED = 2,     /* source on the allow list: exempt from every check */
	WSTEER_XDP_PASS_ESTABLISHED = 3, /* not a new connection (no SYN, or SYN+ACK): never limited */
	WSTEER_XDP_PASS_SYN = 4,         /* a SYN within its source's rate and connection cap */
	WSTEER_XDP_DROP_DENIED = 5,      /* source on the deny list */
	WSTEER_XDP_DROP_SYN_RATE = 6,    /* SYN over its source's token bucket */
	WSTEER_XDP_DROP_CONN_LIMIT = 7,  /* SYN from a source at --xdp-max-conns-per-source */
	WSTEER_XDP_DROP_MALFORMED = 8,   /* to a listen port, but truncated headers, bad IHL/doff or length */
	WSTEER_XDP_REASON_COUNT = 9,
};

/* Key of wsteer_xdp_sources and wsteer_xdp_conns. */
struct wsteer_xdp_source {
	__u8 addr[16]; /* IPv4 as ::ffff:a.b.c.d; IPv6 masked to its /64 */
};

/* Value of wsteer_xdp_sources (LRU hash): a source's SYN token bucket and what the guard dropped. */
struct wsteer_xdp_source_state {
	__u64 credit_ns;    /* token bucket: one SYN costs wsteer_xdp_config.syn_cost_ns of credit */
	__u64 refilled_ns;  /* bpf_ktime_get_ns() of the last refill */
	__u64 syns;         /* SYNs seen from this source */
	__u64 rate_drops;   /* SYNs dropped over the rate */
	__u64 cap_drops;    /* SYNs dropped at the connection cap */
	__u64 last_drop_ns; /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) of the last drop; 0: never */
};

/* Value of wsteer_xdp_config (array, one entry), written by the agent before it attaches. */
struct wsteer_xdp_config {
	__u32 syn_rate;             /* SYNs per second per source; 0: no rate limit */
	__u32 syn_burst;            /* SYNs a quiet source may send at once */
	__u64 syn_cost_ns;          /* 1e9 / syn_rate */
	__u64 syn_burst_ns;         /* syn_burst * syn_cost_ns: the bucket's capacity */
	__u32 max_conns_per_source; /* 0: no cap */
	__u32 pad0;
};

/* Keys of the LPM tries wsteer_xdp_{deny,allow}{4,6}; prefixlen counts bits of addr. */
struct wsteer_xdp_lpm4 {
	__u32 prefixlen;
	__u8 addr[4];
};
struct wsteer_xdp_lpm6 {
	__u32 prefixlen;
	__u8 addr[16];
};

/* Value of the LPM tries: who added the CIDR (the agent re-adds config entries at every start). */
enum wsteer_xdp_origin {
	WSTEER_XDP_ORIGIN_CONFIG = 1, /* --config / Helm values */
	WSTEER_XDP_ORIGIN_CLI = 2,    /* wsteerctl xdp deny|allow */
};

#endif /* WSTEER_ABI_H */
