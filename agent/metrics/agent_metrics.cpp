#include "metrics/agent_metrics.h"

#include <prometheus/text_serializer.h>

#include <sstream>

namespace wsteer::metrics {

const char* to_string(Result r) {
  switch (r) {
    case Result::spliced: return "spliced";
    case Result::proxied: return "proxied";
    case Result::rejected: return "rejected";
    case Result::backend_error: return "backend_error";
    case Result::backend_rejected: return "backend_rejected";
    case Result::unavailable: return "unavailable";
    case Result::aborted: return "aborted";
    case Result::count_: break;
  }
  return "unknown";
}

AgentMetrics::AgentMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  connections_ = &prometheus::BuildCounter()
                      .Name("wsteer_connections_total")
                      .Help("Client connections by how they ended up (result) and why (reason).")
                      .Register(*registry_);
  connect_failures_ = &prometheus::BuildCounter()
                           .Name("wsteer_backend_connect_failures_total")
                           .Help("Failed connection attempts to a backend (refused or timed out).")
                           .Register(*registry_);
  active_ = &prometheus::BuildGauge()
                 .Name("wsteer_connections_active")
                 .Help("Client connections currently open through this agent (handshaking or established).")
                 .Register(*registry_)
                 .Add({});
  auto& bytes = prometheus::BuildCounter()
                    .Name("wsteer_userspace_bytes_total")
                    .Help("Bytes the agent itself read from a socket: handshakes only with the splice "
                          "datapath, everything with the userspace datapath.")
                    .Register(*registry_);
  userspace_bytes_[0] = &bytes.Add({{"direction", "client_to_backend"}});
  userspace_bytes_[1] = &bytes.Add({{"direction", "backend_to_client"}});
  handshake_ = &prometheus::BuildHistogram()
                    .Name("wsteer_handshake_seconds")
                    .Help("Time from accepting a client to relaying the backend's 101.")
                    .Register(*registry_)
                    .Add({}, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                                    0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
  // Make the always-present results visible at zero from the first scrape.
  for (int r = 0; r < static_cast<int>(Result::count_); ++r)
    connections_->Add({{"result", to_string(static_cast<Result>(r))}, {"reason", "none"}});
}

void AgentMetrics::connection(Result result, const std::string& reason) {
  connections_->Add({{"result", to_string(result)}, {"reason", reason.empty() ? "none" : reason}}).Increment();
}

void AgentMetrics::userspace_bytes(Direction d, std::uint64_t n) {
  userspace_bytes_[d == Direction::client_to_backend ? 0 : 1]->Increment(static_cast<double>(n));
}

void AgentMetrics::handshake_seconds(double s) { handshake_->Observe(s); }

void AgentMetrics::backend_connect_failure(const std::string& backend) {
  connect_failures_->Add({{"backend", backend}}).Increment();
}

void AgentMetrics::add_collectable(std::shared_ptr<prometheus::Collectable> c) {
  std::lock_guard lock(collectables_mutex_);
  collectables_.push_back(std::move(c));
}

std::string AgentMetrics::serialize() const {
  auto families = registry_->Collect();
  {
    std::lock_guard lock(collectables_mutex_);
    for (const auto& c : collectables_) {
      auto more = c->Collect();
      families.insert(families.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
    }
  }
  std::ostringstream out;
  prometheus::TextSerializer{}.Serialize(out, families);
  return out.str();
}

prometheus::MetricFamily counter_family(std::string name, std::string help) {
  return {std::move(name), std::move(help), prometheus::MetricType::Counter, {}};
}

prometheus::MetricFamily gauge_family(std::string name, std::string help) {
  return {std::move(name), std::move(help), prometheus::MetricType::Gauge, {}};
}

void add_sample(prometheus::MetricFamily& family, double value, std::vector<prometheus::ClientMetric::Label> labels) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  if (family.type == prometheus::MetricType::Counter)
    m.counter.value = value;
  else
    m.gauge.value = value;
  family.metric.push_back(std::move(m));
}

}  // namespace wsteer::metrics
