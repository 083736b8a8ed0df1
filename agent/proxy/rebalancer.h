// Rebalance after a scale-up: every tick, asks the policy (rebalance_policy.h) which spliced flows
// to close within the node-wide rate, and has the flow table close them with a 1012 close frame.
// Also answers wsteerctl rebalance --dry-run and exports the rebalance metrics.
#pragma once

#include "proxy/rebalance_policy.h"
#include "proxy/spliced_flows.h"
#include "steering/steering.h"

#include <boost/json/object.hpp>
#include <prometheus/metric_family.h>

#include <mutex>
#include <string>
#include <vector>

namespace wsteer::proxy {

class Rebalancer {
 public:
  struct Service {
    std::string name;
    steering::Steering* steering = nullptr;
  };
  Rebalancer(RebalanceSettings settings, std::vector<Service> services, SplicedFlows& flows);

  bool enabled() const { return settings_.above > 0; }
  // Closes what the policy picks now (nothing when off). Meant to run every 100 ms.
  void tick();
  // What tick() would close now, and why each backend gives up flows or not.
  boost::json::object dry_run();
  std::vector<prometheus::MetricFamily> families() const;

 private:
  std::vector<RebalanceServiceView> views(std::uint64_t now_ns) const;

  RebalanceSettings settings_;
  std::vector<Service> services_;
  SplicedFlows& flows_;
  std::mutex mutex_;  // the rate limiter
  CloseRateLimiter limiter_;
};

}  // namespace wsteer::proxy
