// Every metric family the agent exports, in one place: the collectors register under these
// names, the end-to-end test checks that each one is scraped with HELP and TYPE, and the
// dashboard test checks that every name its PromQL uses is one of them.
#pragma once

#include <array>
#include <string_view>

namespace wsteer::metrics::names {

// Pushed by the proxy (AgentMetrics).
inline constexpr std::string_view connections_total = "wsteer_connections_total";
inline constexpr std::string_view connections_active = "wsteer_connections_active";
inline constexpr std::string_view userspace_bytes_total = "wsteer_userspace_bytes_total";
inline constexpr std::string_view handshake_seconds = "wsteer_handshake_seconds";
inline constexpr std::string_view maglev_rebuilds_total = "wsteer_maglev_rebuilds_total";
inline constexpr std::string_view maglev_last_rebuild_duration_seconds = "wsteer_maglev_last_rebuild_duration_seconds";
// Plain HTTP through the same port (proxy/http_proxy.cpp).
inline constexpr std::string_view http_requests_total = "wsteer_http_requests_total";
inline constexpr std::string_view http_connections_active = "wsteer_http_connections_active";

// Read at scrape time from the BPF maps (DatapathCollector).
inline constexpr std::string_view spliced_bytes_total = "wsteer_spliced_bytes_total";
inline constexpr std::string_view spliced_skbs_total = "wsteer_spliced_skbs_total";
inline constexpr std::string_view splice_redirect_failures_total = "wsteer_splice_redirect_failures_total";
inline constexpr std::string_view splice_fin_skbs_total = "wsteer_splice_fin_skbs_total";
inline constexpr std::string_view splice_unmatched_skbs_total = "wsteer_splice_unmatched_skbs_total";
inline constexpr std::string_view bpf_map_entries = "wsteer_bpf_map_entries";
inline constexpr std::string_view bpf_map_max_entries = "wsteer_bpf_map_max_entries";

// Read at scrape time from the steering layer (DatapathCollector).
inline constexpr std::string_view backend_active_connections = "wsteer_backend_active_connections";
inline constexpr std::string_view backend_connections_total = "wsteer_backend_connections_total";
inline constexpr std::string_view backend_connect_failures_total = "wsteer_backend_connect_failures_total";
inline constexpr std::string_view backend_state = "wsteer_backend_state";
inline constexpr std::string_view backend_spliced_bytes_total = "wsteer_backend_spliced_bytes_total";
inline constexpr std::string_view endpoints_version = "wsteer_endpoints_version";

// Read at scrape time from the agent's wiring (app/agent.cpp).
inline constexpr std::string_view spliced_flows = "wsteer_spliced_flows";
inline constexpr std::string_view spliced_bytes_in_flight = "wsteer_spliced_bytes_in_flight";
inline constexpr std::string_view endpoints_reloads_total = "wsteer_endpoints_reloads_total";
inline constexpr std::string_view backpressure_paused_flows = "wsteer_backpressure_paused_flows";
inline constexpr std::string_view backpressure_holds_total = "wsteer_backpressure_holds_total";
inline constexpr std::string_view backpressure_relayed_bytes_total = "wsteer_backpressure_relayed_bytes_total";

// Pushed by the EndpointSlice sources of Kubernetes Services (app/kubernetes_metrics.cpp).
inline constexpr std::string_view k8s_watch_events_total = "wsteer_k8s_watch_events_total";
inline constexpr std::string_view k8s_relists_total = "wsteer_k8s_relists_total";
inline constexpr std::string_view k8s_errors_total = "wsteer_k8s_errors_total";
inline constexpr std::string_view k8s_last_sync_timestamp_seconds = "wsteer_k8s_last_sync_timestamp_seconds";

// Read at scrape time from the scalers (app/scaling_runtime.cpp); only with a scaling: block.
inline constexpr std::string_view scaler_leader = "wsteer_scaler_leader";
inline constexpr std::string_view scaler_connections = "wsteer_scaler_connections";
inline constexpr std::string_view scaler_agents = "wsteer_scaler_agents";
inline constexpr std::string_view scaler_current_replicas = "wsteer_scaler_current_replicas";
inline constexpr std::string_view scaler_desired_replicas = "wsteer_scaler_desired_replicas";
inline constexpr std::string_view scaler_decisions_total = "wsteer_scaler_decisions_total";
inline constexpr std::string_view scaler_last_decision = "wsteer_scaler_last_decision";
inline constexpr std::string_view scaler_holding_agents = "wsteer_scaler_holding_agents";
inline constexpr std::string_view scaler_scale_patches_total = "wsteer_scaler_scale_patches_total";
inline constexpr std::string_view scaler_lease_rounds_total = "wsteer_scaler_lease_rounds_total";
// Read at scrape time from the XDP guard's per-CPU counters (app/xdp_front_door.cpp).
inline constexpr std::string_view xdp_packets_total = "wsteer_xdp_packets_total";
// Rebalance after a scale-up (proxy/rebalancer.cpp).
inline constexpr std::string_view rebalance_closed_flows_total = "wsteer_rebalance_closed_flows_total";
inline constexpr std::string_view rebalance_close_timeouts_total = "wsteer_rebalance_close_timeouts_total";
inline constexpr std::string_view rebalance_close_aborts_total = "wsteer_rebalance_close_aborts_total";
inline constexpr std::string_view rebalance_closing_flows = "wsteer_rebalance_closing_flows";

enum class Type { counter, gauge, histogram };

struct Family {
  std::string_view name;
  Type type;
  bool splice_only;  // only meaningful with the splice datapath: may be absent or empty with userspace
  bool kubernetes_only = false;  // only exported when the agent follows a Kubernetes Service
  bool scaler_only = false;      // only exported when a Service has a scaling: block
  bool xdp_only = false;         // only exported with --xdp-interfaces
};

inline constexpr std::array kFamilies = {
    Family{connections_total, Type::counter, false},
    Family{connections_active, Type::gauge, false},
    Family{userspace_bytes_total, Type::counter, false},
    Family{handshake_seconds, Type::histogram, false},
    Family{maglev_rebuilds_total, Type::counter, false},
    Family{maglev_last_rebuild_duration_seconds, Type::gauge, false},
    Family{http_requests_total, Type::counter, false},
    Family{http_connections_active, Type::gauge, false},
    Family{spliced_bytes_total, Type::counter, false},
    Family{spliced_skbs_total, Type::counter, false},
    Family{splice_redirect_failures_total, Type::counter, false},
    Family{splice_fin_skbs_total, Type::counter, false},
    Family{splice_unmatched_skbs_total, Type::counter, false},
    Family{bpf_map_entries, Type::gauge, true},
    Family{bpf_map_max_entries, Type::gauge, true},
    Family{backend_active_connections, Type::gauge, false},
    Family{backend_connections_total, Type::counter, false},
    Family{backend_connect_failures_total, Type::counter, false},
    Family{backend_state, Type::gauge, false},
    Family{backend_spliced_bytes_total, Type::counter, false},
    Family{endpoints_version, Type::gauge, false},
    Family{spliced_flows, Type::gauge, true},
    Family{spliced_bytes_in_flight, Type::gauge, true},
    Family{endpoints_reloads_total, Type::counter, false},
    Family{backpressure_paused_flows, Type::gauge, true},
    Family{backpressure_holds_total, Type::counter, true},
    Family{backpressure_relayed_bytes_total, Type::counter, true},
    Family{k8s_watch_events_total, Type::counter, false, true},
    Family{k8s_relists_total, Type::counter, false, true},
    Family{k8s_errors_total, Type::counter, false, true},
    Family{k8s_last_sync_timestamp_seconds, Type::gauge, false, true},
    Family{scaler_leader, Type::gauge, false, true, true},
    Family{scaler_connections, Type::gauge, false, true, true},
    Family{scaler_agents, Type::gauge, false, true, true},
    Family{scaler_current_replicas, Type::gauge, false, true, true},
    Family{scaler_desired_replicas, Type::gauge, false, true, true},
    Family{scaler_decisions_total, Type::counter, false, true, true},
    Family{scaler_last_decision, Type::gauge, false, true, true},
    Family{scaler_holding_agents, Type::gauge, false, true, true},
    Family{scaler_scale_patches_total, Type::counter, false, true, true},
    Family{scaler_lease_rounds_total, Type::counter, false, true, true},
    Family{xdp_packets_total, Type::counter, false, false, false, true},
    Family{rebalance_closed_flows_total, Type::counter, true, false, false, false},
    Family{rebalance_close_timeouts_total, Type::counter, true, false, false, false},
    Family{rebalance_close_aborts_total, Type::counter, true, false, false, false},
    Family{rebalance_closing_flows, Type::gauge, true, false, false, false},
};

}  // namespace wsteer::metrics::names
