// Rebalance after a scale-up: which spliced flows to close, as a pure function of the agent's own
// counts, so it can be tested without sockets. A backend holding more than `above` x the mean of
// its Service's active backends gives up its oldest flows (never one younger than `min_age`),
// until it is at or below that threshold, counting flows already being closed; at most `budget`
// picks per call over all Services (the caller's rate limit).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace wsteer::proxy {

struct RebalanceSettings {
  double above = 0;          // 0: off; else > 1
  std::uint32_t rate = 10;   // closes started per second, node-wide
  std::chrono::nanoseconds min_age = std::chrono::seconds(60);
  // A client that has not finished the close this long after its 1012 gets both sides closed.
  std::chrono::milliseconds close_timeout = std::chrono::seconds(5);
};

struct RebalanceBackendView {
  std::uint32_t id = 0;
  std::string name;
  bool active = true;             // draining and unhealthy backends neither count in the mean nor lose flows
  std::uint64_t connections = 0;  // this agent's active connections to it
};

struct RebalanceFlowView {
  std::uint64_t flow_id = 0;
  std::uint32_t backend_id = 0;
  std::uint64_t created_ns = 0;  // CLOCK_MONOTONIC, wsteer_flows.created_ns
  bool closing = false;          // a close is already under way
  bool closable = true;          // false: its frame boundaries are unknown (the verdict's walk gave up)
};

struct RebalanceServiceView {
  std::string name;
  std::vector<RebalanceBackendView> backends;
  std::vector<RebalanceFlowView> flows;
};

struct RebalancePick {
  std::string service;
  std::string backend;
  std::uint32_t backend_id = 0;
  std::uint64_t flow_id = 0;
  std::uint64_t age_ns = 0;
};

// One backend's standing, for wsteerctl rebalance --dry-run.
struct RebalanceBackendStanding {
  std::string service;
  std::string backend;
  std::uint64_t connections = 0;
  std::uint64_t closing = 0;
  double mean = 0;
  double threshold = 0;
  std::uint64_t excess = 0;  // flows to close to reach the threshold (after those already closing)
  std::uint64_t picked = 0;  // of which this call picked
  std::string reason;        // why it gives up flows, or why not
};

struct RebalancePlan {
  std::vector<RebalancePick> picks;  // in the order to close them
  std::vector<RebalanceBackendStanding> backends;
};

RebalancePlan plan_rebalance(const std::vector<RebalanceServiceView>& services, const RebalanceSettings& settings,
                             std::size_t budget, std::uint64_t now_ns);

// At most `per_second` closes in any one-second window.
class CloseRateLimiter {
 public:
  explicit CloseRateLimiter(std::uint32_t per_second) : per_second_(per_second) {}
  std::size_t budget(std::chrono::steady_clock::time_point now);
  void record(std::chrono::steady_clock::time_point now, std::size_t n = 1);

 private:
  std::uint32_t per_second_;
  std::deque<std::chrono::steady_clock::time_point> recent_;
};

}  // namespace wsteer::proxy
