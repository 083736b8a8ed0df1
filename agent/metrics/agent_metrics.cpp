#include "metrics/agent_metrics.h"

#include "metrics/metric_names.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
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
    case Result::http: return "http";
    case Result::count_: break;
  }
  return "unknown";
}

const std::vector<Outcome>& known_outcomes() {
  // Reasons of `rejected` are proxy/handshake_check.cpp's labels plus the request-read failures
  // of proxy/session.cpp; `backend_rejected` carries the status class the backend answered.
  static const std::vector<Outcome> outcomes = {
      {Result::spliced, "none"},
      {Result::proxied, "none"},
      {Result::rejected, "malformed"},
      {Result::rejected, "header_too_large"},
      {Result::rejected, "timeout"},
      {Result::rejected, "method"},
      {Result::rejected, "http_version"},
      {Result::rejected, "host"},
      {Result::rejected, "not_upgrade"},
      {Result::rejected, "connection"},
      {Result::rejected, "body"},
      {Result::rejected, "version"},
      {Result::rejected, "key"},
      {Result::backend_error, "connect_failed"},
      {Result::backend_error, "bad_response"},
      {Result::backend_error, "splice_failed"},
      {Result::backend_rejected, "1xx"},
      {Result::backend_rejected, "2xx"},
      {Result::backend_rejected, "3xx"},
      {Result::backend_rejected, "4xx"},
      {Result::backend_rejected, "5xx"},
      {Result::unavailable, "no_backends"},
      {Result::unavailable, "all_full"},
      {Result::unavailable, "flows_full"},  // wsteer_flows has no room (proxy/session.cpp)
      {Result::unavailable, "descriptors"},  // the agent hit RLIMIT_NOFILE (proxy/listener.cpp, session.cpp)
      {Result::aborted, "client_closed"},
      {Result::aborted, "splice_failed"},
      {Result::http, "none"},
  };
  return outcomes;
}

const std::vector<HttpOutcome>& known_http_outcomes() {
  // The agent's own answers carry fixed statuses (proxy/http_proxy.cpp): 400, 408, 413, 431,
  // 502, 503, 504; relayed answers carry the backend's class.
  static const std::vector<HttpOutcome> outcomes = {
      {Result::proxied, "none", "1xx"},
      {Result::proxied, "none", "2xx"},
      {Result::proxied, "none", "3xx"},
      {Result::proxied, "none", "4xx"},
      {Result::proxied, "none", "5xx"},
      {Result::rejected, "malformed", "4xx"},
      {Result::rejected, "timeout", "4xx"},
      {Result::rejected, "body_too_large", "4xx"},
      {Result::rejected, "header_too_large", "4xx"},
      {Result::unavailable, "no_backends", "5xx"},
      {Result::unavailable, "all_full", "5xx"},
      {Result::backend_error, "connect_failed", "5xx"},
      {Result::backend_error, "bad_response", "5xx"},
      {Result::backend_error, "timeout", "5xx"},
      {Result::aborted, "backend_closed", "none"},
      {Result::aborted, "client_closed", "none"},
  };
  return outcomes;
}

std::string_view bounded_reason(Result result, std::string_view reason) {
  for (const auto& o : known_outcomes())
    if (o.result == result && o.reason == reason) return o.reason;
  return "other";
}

AgentMetrics::AgentMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  connections_ = &prometheus::BuildCounter()
                      .Name(std::string(names::connections_total))
                      .Help("Client connections by how they ended up (result) and why (reason): spliced, "
                            "proxied, rejected, backend_error, backend_rejected, unavailable, aborted.")
                      .Register(*registry_);
  active_ = &prometheus::BuildGauge()
                 .Name(std::string(names::connections_active))
                 .Help("Client connections currently open through this agent (handshaking or established).")
                 .Register(*registry_)
                 .Add({});
  auto& bytes = prometheus::BuildCounter()
                    .Name(std::string(names::userspace_bytes_total))
                    .Help("Bytes the agent itself read from a socket: with the splice datapath the "
                          "handshakes, held bytes it relayed (backpressure) and what rebalance closes "
                          "read; everything with the userspace datapath.")
                    .Register(*registry_);
  userspace_bytes_[0] = &bytes.Add({{"direction", "client_to_backend"}});
  userspace_bytes_[1] = &bytes.Add({{"direction", "backend_to_client"}});
  handshake_ = &prometheus::BuildHistogram()
                    .Name(std::string(names::handshake_seconds))
                    .Help("Time from accepting a client to relaying the backend's 101, in seconds.")
                    .Register(*registry_)
                    .Add({}, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                                    0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
  rebuilds_ = &prometheus::BuildCounter()
                   .Name(std::string(names::maglev_rebuilds_total))
                   .Help("Maglev table rebuilds (one per endpoint set change).")
                   .Register(*registry_)
                   .Add({});
  last_rebuild_seconds_ = &prometheus::BuildGauge()
                               .Name(std::string(names::maglev_last_rebuild_duration_seconds))
                               .Help("How long the last Maglev table rebuild took, in seconds.")
                               .Register(*registry_)
                               .Add({});
  for (const auto& o : known_outcomes())
    connections_->Add({{"result", to_string(o.result)}, {"reason", std::string(o.reason)}});
  http_requests_ = &prometheus::BuildCounter()
                        .Name(std::string(names::http_requests_total))
                        .Help("Plain HTTP requests (no upgrade) by outcome (result), why (reason) and the status "
                              "class the client got (code_class; none: no complete response).")
                        .Register(*registry_);
  for (const auto& o : known_http_outcomes())
    http_requests_->Add({{"result", to_string(o.result)}, {"reason", std::string(o.reason)},
                         {"code_class", std::string(o.code_class)}});
  http_active_ = &prometheus::BuildGauge()
                      .Name(std::string(names::http_connections_active))
                      .Help("Client connections currently served as plain HTTP (keep-alive, not upgraded).")
                      .Register(*registry_)
                      .Add({});
}

void AgentMetrics::http_request(Result result, std::string_view reason, std::string_view code_class) {
  const auto& known = known_http_outcomes();
  const bool listed = std::any_of(known.begin(), known.end(), [&](const HttpOutcome& o) {
    return o.result == result && o.reason == reason && o.code_class == code_class;
  });
  http_requests_
      ->Add({{"result", to_string(result)}, {"reason", listed ? std::string(reason) : "other"},
             {"code_class", std::string(code_class)}})
      .Increment();
}

void AgentMetrics::connection(Result result, std::string_view reason) {
  connections_->Add({{"result", to_string(result)}, {"reason", std::string(bounded_reason(result, reason))}})
      .Increment();
}

void AgentMetrics::userspace_bytes(Direction d, std::uint64_t n) {
  userspace_bytes_[d == Direction::client_to_backend ? 0 : 1]->Increment(static_cast<double>(n));
}

void AgentMetrics::handshake_seconds(double s) { handshake_->Observe(s); }

void AgentMetrics::maglev_rebuild(double seconds) {
  rebuilds_->Increment();
  last_rebuild_seconds_->Set(seconds);
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

prometheus::MetricFamily counter_family(std::string_view name, std::string help) {
  return {std::string(name), std::move(help), prometheus::MetricType::Counter, {}};
}

prometheus::MetricFamily gauge_family(std::string_view name, std::string help) {
  return {std::string(name), std::move(help), prometheus::MetricType::Gauge, {}};
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
