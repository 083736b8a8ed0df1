#include "metrics/datapath_collector.h"

#include "metrics/agent_metrics.h"

namespace wsteer::metrics {
namespace {

const char* direction_label(int d) {
  return d == WSTEER_DIR_CLIENT_TO_BACKEND ? "client_to_backend" : "backend_to_client";
}

const char* state_label(steering::BackendState s) {
  switch (s) {
    case steering::BackendState::active: return "active";
    case steering::BackendState::draining: return "draining";
    case steering::BackendState::unhealthy: return "unhealthy";
  }
  return "unknown";
}

}  // namespace

std::vector<prometheus::MetricFamily> DatapathCollector::Collect() const {
  std::vector<prometheus::MetricFamily> out;

  wsteer_stats stats{};
  if (datapath_) stats = datapath_->totals().stats;

  auto bytes = counter_family("wsteer_spliced_bytes_total",
                              "Bytes the kernel moved between spliced sockets (BPF verdict counters).");
  auto skbs = counter_family("wsteer_spliced_skbs_total", "skbs the kernel redirected between spliced sockets.");
  for (int d = 0; d < WSTEER_DIR_COUNT; ++d) {
    add_sample(bytes, static_cast<double>(stats.bytes[d]), {{"direction", direction_label(d)}});
    add_sample(skbs, static_cast<double>(stats.skbs[d]), {{"direction", direction_label(d)}});
  }
  auto failures = counter_family("wsteer_splice_redirect_failures_total",
                                 "Redirects the kernel refused because the peer socket was gone.");
  add_sample(failures, static_cast<double>(stats.redirect_failures));
  auto fins = counter_family("wsteer_splice_fin_skbs_total",
                             "Zero-length (FIN) skbs dropped by the verdict; the agent propagates the close.");
  add_sample(fins, static_cast<double>(stats.zero_len_dropped));

  auto active = gauge_family("wsteer_backend_active_connections", "Open connections per backend.");
  auto total = counter_family("wsteer_backend_connections_total", "Connections ever established per backend.");
  auto state = gauge_family("wsteer_backend_state", "1 for the backend's current state (active, draining, unhealthy).");
  auto backend_bytes = counter_family("wsteer_backend_spliced_bytes_total", "Spliced bytes per backend and direction.");
  for (const auto& b : steering_.snapshot()) {
    const auto& name = b.backend.name;
    add_sample(active, static_cast<double>(b.active_connections), {{"backend", name}});
    add_sample(total, static_cast<double>(b.total_connections), {{"backend", name}});
    add_sample(state, 1, {{"backend", name}, {"state", state_label(b.state)}});
    if (datapath_) {
      const auto counters = datapath_->backend_counters(b.backend.id);
      for (int d = 0; d < WSTEER_DIR_COUNT; ++d)
        add_sample(backend_bytes, static_cast<double>(counters.bytes[d]),
                   {{"backend", name}, {"direction", direction_label(d)}});
    }
  }
  auto version = gauge_family("wsteer_endpoints_version", "Bumps each time the endpoint set changes.");
  add_sample(version, static_cast<double>(steering_.endpoints_version()));

  for (auto* f : {&bytes, &skbs, &failures, &fins, &active, &total, &state, &backend_bytes, &version})
    out.push_back(std::move(*f));
  return out;
}

}  // namespace wsteer::metrics
