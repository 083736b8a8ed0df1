// The agent's Prometheus metrics (prometheus-cpp). Push-style metrics the proxy updates live here;
// pull-style ones (BPF counters, steering state) are Collectables read at scrape time.
// Family names come from metrics/metric_names.h.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace wsteer::metrics {

// How a client connection ended up; the `result` label of wsteer_connections_total.
enum class Result {
  spliced,           // 101 relayed, flow handed to the kernel
  proxied,           // 101 relayed, flow copied in userspace (--datapath userspace)
  rejected,          // the client's request was refused (400, 426, 431, timeout)
  backend_error,     // no backend could be reached (502) or it broke the handshake
  backend_rejected,  // the backend answered something other than 101, relayed as is
  unavailable,       // no eligible backend (503)
  aborted,           // the client went away during the handshake, or the splice failed after the 101
  http,              // served plain HTTP/1.1 requests (no upgrade) until it closed (proxy/http_proxy.cpp)
  count_,
};
const char* to_string(Result r);

// The fixed set of (result, reason) pairs wsteer_connections_total can carry. All of them are
// exported at zero from the first scrape, so rate() and alerts see a series before its first event.
struct Outcome {
  Result result;
  std::string_view reason;
};
const std::vector<Outcome>& known_outcomes();
// The reason label for `reason` under `result`: itself if it is a known pair, else "other", so a
// new code path can never make the label set grow without bound.
std::string_view bounded_reason(Result result, std::string_view reason);

// One plain-HTTP request's outcome: the labels of wsteer_http_requests_total. `result` reuses the
// connection results (proxied: the backend's answer relayed whole; rejected, unavailable,
// backend_error: the agent answered with its own error; aborted: a side closed mid-exchange);
// `code_class` is the status class the client got ("none": no complete response).
struct HttpOutcome {
  Result result;
  std::string_view reason;
  std::string_view code_class;
};
// Every (result, reason, code_class) the proxy can count, each exported at zero from the start.
const std::vector<HttpOutcome>& known_http_outcomes();

enum class Direction { client_to_backend, backend_to_client };

class AgentMetrics {
 public:
  AgentMetrics();

  void connection(Result result, std::string_view reason);
  void userspace_bytes(Direction d, std::uint64_t n);
  void handshake_seconds(double s);
  // One plain-HTTP request; an unknown triple is counted under reason "other".
  void http_request(Result result, std::string_view reason, std::string_view code_class);
  // Client connections currently served as plain HTTP (not yet, or never, upgraded).
  prometheus::Gauge& http_connections() { return *http_active_; }
  // One Maglev table rebuild (an endpoint set change) and how long it took.
  void maglev_rebuild(double seconds);

  prometheus::Gauge& active_connections() { return *active_; }
  prometheus::Registry& registry() { return *registry_; }

  // Pull-style collectors, read at every scrape.
  void add_collectable(std::shared_ptr<prometheus::Collectable> c);
  // The text exposition of every metric.
  std::string serialize() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* connections_;
  prometheus::Gauge* active_;
  std::array<prometheus::Counter*, 2> userspace_bytes_{};
  prometheus::Histogram* handshake_;
  prometheus::Family<prometheus::Counter>* http_requests_;
  prometheus::Gauge* http_active_;
  prometheus::Counter* rebuilds_;
  prometheus::Gauge* last_rebuild_seconds_;
  mutable std::mutex collectables_mutex_;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
};

// Helpers to build a MetricFamily by hand in a Collectable.
prometheus::MetricFamily counter_family(std::string_view name, std::string help);
prometheus::MetricFamily gauge_family(std::string_view name, std::string help);
void add_sample(prometheus::MetricFamily& family, double value,
                std::vector<prometheus::ClientMetric::Label> labels = {});

}  // namespace wsteer::metrics
