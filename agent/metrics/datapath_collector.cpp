#include "metrics/datapath_collector.h"

#include "metrics/agent_metrics.h"
#include "metrics/metric_names.h"

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

  // Per-CPU BPF counters, summed over CPUs by the datapath. With the userspace datapath they
  // read 0: nothing was spliced.
  wsteer_stats stats{};
  if (datapath_) stats = datapath_->totals().stats;

  auto bytes = counter_family(names::spliced_bytes_total,
                              "Bytes the kernel moved between spliced sockets, per direction (BPF verdict "
                              "counters, summed over CPUs).");
  auto skbs = counter_family(names::spliced_skbs_total, "skbs the kernel redirected between spliced sockets.");
  for (int d = 0; d < WSTEER_DIR_COUNT; ++d) {
    add_sample(bytes, static_cast<double>(stats.bytes[d]), {{"direction", direction_label(d)}});
    add_sample(skbs, static_cast<double>(stats.skbs[d]), {{"direction", direction_label(d)}});
  }
  auto failures = counter_family(names::splice_redirect_failures_total,
                                 "Redirects the kernel refused because the peer socket was gone.");
  add_sample(failures, static_cast<double>(stats.redirect_failures));
  auto fins = counter_family(names::splice_fin_skbs_total,
                             "Zero-length (FIN) skbs dropped by the verdict; the agent propagates the close.");
  add_sample(fins, static_cast<double>(stats.zero_len_dropped));
  auto unmatched = counter_family(names::splice_unmatched_skbs_total,
                                  "skbs the verdict saw on a socket with no wsteer_flows entry (passed to "
                                  "the socket's owner); should stay 0.");
  add_sample(unmatched, static_cast<double>(stats.no_flow));

  // Map fill: a full wsteer_flows or sockhash makes new splices fail. Labels: the map's name.
  auto entries = gauge_family(names::bpf_map_entries, "Entries in a BPF map of the splice datapath.");
  auto max_entries = gauge_family(names::bpf_map_max_entries, "Capacity of a BPF map of the splice datapath.");
  if (datapath_) {
    for (const auto& fill : datapath_->map_fill()) {
      add_sample(entries, static_cast<double>(fill.entries), {{"map", fill.name}});
      add_sample(max_entries, static_cast<double>(fill.max_entries), {{"map", fill.name}});
    }
  }

  // Per backend, from the steering layer. Label cardinality: backends only, never clients; a
  // backend's series end when it leaves the list and its last connection closes.
  auto active = gauge_family(names::backend_active_connections,
                             "Open connections per backend (handshaking with it or established).");
  auto total = counter_family(names::backend_connections_total, "Connections established to a backend.");
  auto connect_failures = counter_family(names::backend_connect_failures_total,
                                         "Failed connection attempts to a backend (refused or timed out).");
  auto state = gauge_family(names::backend_state, "1 for the backend's current state (active, draining, unhealthy).");
  auto backend_bytes = counter_family(names::backend_spliced_bytes_total,
                                      "Spliced bytes per backend and direction (BPF counters, summed over CPUs).");
  auto version = gauge_family(names::endpoints_version, "Bumps each time the Service's endpoint set changes.");
  for (const auto& service : services_) {
    const auto& sv = service.name;
    for (const auto& b : service.steering->snapshot()) {
      const auto& name = b.backend.name;
      add_sample(active, static_cast<double>(b.active_connections), {{"service", sv}, {"backend", name}});
      add_sample(total, static_cast<double>(b.total_connections), {{"service", sv}, {"backend", name}});
      add_sample(connect_failures, static_cast<double>(b.connect_failures), {{"service", sv}, {"backend", name}});
      add_sample(state, 1, {{"service", sv}, {"backend", name}, {"state", state_label(b.state)}});
      if (datapath_) {
        const auto counters = datapath_->backend_counters(b.backend.id);
        for (int d = 0; d < WSTEER_DIR_COUNT; ++d)
          add_sample(backend_bytes, static_cast<double>(counters.bytes[d]),
                     {{"service", sv}, {"backend", name}, {"direction", direction_label(d)}});
      }
    }
    add_sample(version, static_cast<double>(service.steering->endpoints_version()), {{"service", sv}});
  }

  for (auto* f : {&bytes, &skbs, &failures, &fins, &unmatched, &entries, &max_entries, &active, &total,
                  &connect_failures, &state, &backend_bytes, &version})
    out.push_back(std::move(*f));
  return out;
}

}  // namespace wsteer::metrics
