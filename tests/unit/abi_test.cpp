// The map layouts shared by the BPF programs and C++ must not drift: a change here is an ABI
// change for every pinned map a running agent or wsteerctl reads.
#include "wsteer_abi.h"

#include <gtest/gtest.h>

#include <cstddef>

TEST(Abi, FlowSideLayout) {
  EXPECT_EQ(sizeof(wsteer_flow_side), 128u);
  EXPECT_EQ(offsetof(wsteer_flow_side, peer_cookie), 0u);
  EXPECT_EQ(offsetof(wsteer_flow_side, bytes), 8u);
  EXPECT_EQ(offsetof(wsteer_flow_side, skbs), 16u);
  EXPECT_EQ(offsetof(wsteer_flow_side, redirect_failures), 24u);
  EXPECT_EQ(offsetof(wsteer_flow_side, created_ns), 32u);
  EXPECT_EQ(offsetof(wsteer_flow_side, client_addr), 40u);
  EXPECT_EQ(offsetof(wsteer_flow_side, client_port), 56u);
  EXPECT_EQ(offsetof(wsteer_flow_side, direction), 58u);
  EXPECT_EQ(offsetof(wsteer_flow_side, holding), 59u);
  EXPECT_EQ(offsetof(wsteer_flow_side, backend_id), 60u);
  EXPECT_EQ(offsetof(wsteer_flow_side, held), 64u);
  EXPECT_EQ(offsetof(wsteer_flow_side, pausing), 72u);
  EXPECT_EQ(offsetof(wsteer_flow_side, frames), 80u);
  EXPECT_EQ(offsetof(wsteer_flow_side, close_held_base), 112u);
  EXPECT_EQ(offsetof(wsteer_flow_side, closing), 120u);
  // `closing` must lie after `held` (see wsteer_abi.h: in-order copies never tear the other way).
  EXPECT_GT(offsetof(wsteer_flow_side, closing), offsetof(wsteer_flow_side, held));
}

TEST(Abi, FrameStateLayout) {
  EXPECT_EQ(sizeof(wsteer_frame_state), 32u);
  EXPECT_EQ(offsetof(wsteer_frame_state, hdr), 8u);
  EXPECT_EQ(offsetof(wsteer_frame_state, hdr_len), 24u);
  EXPECT_EQ(offsetof(wsteer_frame_state, lost), 25u);
}

TEST(Abi, FlowControlAndEvents) {
  EXPECT_EQ(sizeof(wsteer_flow_ctl), 24u);
  EXPECT_EQ(offsetof(wsteer_flow_ctl, relayed), 8u);
  EXPECT_EQ(offsetof(wsteer_flow_ctl, close), 16u);
  EXPECT_EQ(sizeof(wsteer_event), 16u);
  EXPECT_EQ(offsetof(wsteer_event, kind), 8u);
}

TEST(Abi, CountersLayout) {
  EXPECT_EQ(sizeof(wsteer_backend_counters), 32u);
  EXPECT_EQ(offsetof(wsteer_backend_counters, skbs), 16u);
  EXPECT_EQ(sizeof(wsteer_stats), 88u);
  EXPECT_EQ(offsetof(wsteer_stats, frame_walks_lost), 72u);
  EXPECT_EQ(offsetof(wsteer_stats, close_holds), 80u);
  EXPECT_EQ(offsetof(wsteer_stats, redirect_failures), 32u);
  EXPECT_EQ(offsetof(wsteer_stats, zero_len_dropped), 40u);
  EXPECT_EQ(offsetof(wsteer_stats, no_flow), 48u);
  EXPECT_EQ(offsetof(wsteer_stats, held_bytes), 56u);
  EXPECT_EQ(offsetof(wsteer_stats, holds), 64u);
}

TEST(Abi, BackendInfoLayout) {
  EXPECT_EQ(sizeof(wsteer_backend_info), 120u);
  EXPECT_EQ(offsetof(wsteer_backend_info, addr), 64u);
  EXPECT_EQ(offsetof(wsteer_backend_info, port), 80u);
  EXPECT_EQ(offsetof(wsteer_backend_info, state), 82u);
  EXPECT_EQ(offsetof(wsteer_backend_info, weight), 84u);
  EXPECT_EQ(offsetof(wsteer_backend_info, max_connections), 88u);
  EXPECT_EQ(offsetof(wsteer_backend_info, service), 92u);
  EXPECT_EQ(offsetof(wsteer_backend_info, active_connections), 96u);
  EXPECT_EQ(offsetof(wsteer_backend_info, total_connections), 104u);
  EXPECT_EQ(offsetof(wsteer_backend_info, connect_failures), 112u);
}

TEST(Abi, ServiceInfoLayout) {
  EXPECT_EQ(sizeof(wsteer_service_info), 160u);
  EXPECT_EQ(offsetof(wsteer_service_info, listen_addr), 128u);
  EXPECT_EQ(offsetof(wsteer_service_info, listen_port), 144u);
  EXPECT_EQ(offsetof(wsteer_service_info, in_use), 146u);
  EXPECT_EQ(offsetof(wsteer_service_info, maglev_offset), 148u);
  EXPECT_EQ(offsetof(wsteer_service_info, maglev_size), 152u);
}

TEST(Abi, Constants) {
  EXPECT_EQ(WSTEER_DIR_COUNT, 2);
  EXPECT_EQ(WSTEER_MAGLEV_DEFAULT_SIZE, 65537);
  EXPECT_GE(WSTEER_MAX_FLOW_SOCKETS, 2 * 100000);
}

// XDP front door (bpf/xdp_guard.bpf.c): wsteerctl reads and writes these pinned maps directly.
TEST(Abi, XdpSourceAndStateLayout) {
  EXPECT_EQ(sizeof(wsteer_xdp_source), 16u);
  EXPECT_EQ(sizeof(wsteer_xdp_source_state), 48u);
  EXPECT_EQ(offsetof(wsteer_xdp_source_state, credit_ns), 0u);
  EXPECT_EQ(offsetof(wsteer_xdp_source_state, refilled_ns), 8u);
  EXPECT_EQ(offsetof(wsteer_xdp_source_state, syns), 16u);
  EXPECT_EQ(offsetof(wsteer_xdp_source_state, rate_drops), 24u);
  EXPECT_EQ(offsetof(wsteer_xdp_source_state, cap_drops), 32u);
  EXPECT_EQ(offsetof(wsteer_xdp_source_state, last_drop_ns), 40u);
}

TEST(Abi, XdpConfigLayout) {
  EXPECT_EQ(sizeof(wsteer_xdp_config), 32u);
  EXPECT_EQ(offsetof(wsteer_xdp_config, syn_rate), 0u);
  EXPECT_EQ(offsetof(wsteer_xdp_config, syn_burst), 4u);
  EXPECT_EQ(offsetof(wsteer_xdp_config, syn_cost_ns), 8u);
  EXPECT_EQ(offsetof(wsteer_xdp_config, syn_burst_ns), 16u);
  EXPECT_EQ(offsetof(wsteer_xdp_config, max_conns_per_source), 24u);
}

TEST(Abi, XdpLpmKeysLayout) {
  // The kernel's struct bpf_lpm_trie_key: a __u32 prefix length, then the data bytes, no padding.
  EXPECT_EQ(sizeof(wsteer_xdp_lpm4), 8u);
  EXPECT_EQ(offsetof(wsteer_xdp_lpm4, addr), 4u);
  EXPECT_EQ(sizeof(wsteer_xdp_lpm6), 20u);
  EXPECT_EQ(offsetof(wsteer_xdp_lpm6, addr), 4u);
}

TEST(Abi, XdpReasons) {
  EXPECT_EQ(WSTEER_XDP_REASON_COUNT, 9);
  EXPECT_LT(WSTEER_XDP_PASS_SYN, WSTEER_XDP_DROP_DENIED);  // passes first, then drops
  EXPECT_EQ(WSTEER_XDP_DROP_MALFORMED, WSTEER_XDP_REASON_COUNT - 1);
}
