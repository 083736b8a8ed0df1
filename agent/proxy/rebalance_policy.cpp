#include "proxy/rebalance_policy.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace wsteer::proxy {

RebalancePlan plan_rebalance(const std::vector<RebalanceServiceView>& services, const RebalanceSettings& settings,
                             std::size_t budget, std::uint64_t now_ns) {
  RebalancePlan plan;
  if (settings.above <= 0) return plan;
  const auto min_age = static_cast<std::uint64_t>(settings.min_age.count());
  struct Over {
    const RebalanceServiceView* service;
    std::size_t standing;  // index into plan.backends
    std::uint32_t id;
    double ratio;          // connections / threshold: the worst goes first when the budget is short
  };
  std::vector<Over> over;
  for (const auto& service : services) {
    std::uint64_t sum = 0;
    std::size_t active = 0;
    for (const auto& b : service.backends)
      if (b.active) {
        sum += b.connections;
        ++active;
      }
    const double mean = active ? static_cast<double>(sum) / static_cast<double>(active) : 0;
    const double threshold = settings.above * mean;
    std::unordered_map<std::uint32_t, std::uint64_t> closing;
    for (const auto& f : service.flows)
      if (f.closing) ++closing[f.backend_id];
    for (const auto& b : service.backends) {
      RebalanceBackendStanding s{service.name, b.name, b.connections, closing[b.id], mean, threshold, 0, 0, {}};
      const std::uint64_t staying = b.connections > s.closing ? b.connections - s.closing : 0;
      if (!b.active) {
        s.reason = "not active: keeps its flows";
      } else if (active < 2) {
        s.reason = "the only active backend of its service";
      } else if (static_cast<double>(staying) <= threshold) {
        s.reason = s.closing ? "at or below the threshold once its closing flows end" : "at or below the threshold";
      } else {
        s.excess = staying - static_cast<std::uint64_t>(std::floor(threshold));
        s.reason = "above " + std::to_string(settings.above).substr(0, 4) + " x the mean";
        over.push_back({&service, plan.backends.size(), b.id, static_cast<double>(staying) / std::max(threshold, 1.0)});
      }
      plan.backends.push_back(std::move(s));
    }
  }
  std::stable_sort(over.begin(), over.end(), [](const Over& a, const Over& b) { return a.ratio > b.ratio; });
  for (const auto& o : over) {
    auto& standing = plan.backends[o.standing];
    std::vector<const RebalanceFlowView*> flows;
    for (const auto& f : o.service->flows)
      if (f.backend_id == o.id && !f.closing && f.closable && now_ns >= f.created_ns && now_ns - f.created_ns >= min_age)
        flows.push_back(&f);
    std::sort(flows.begin(), flows.end(), [](const auto* a, const auto* b) {
      return a->created_ns != b->created_ns ? a->created_ns < b->created_ns : a->flow_id < b->flow_id;
    });
    for (const auto* f : flows) {
      if (standing.picked >= standing.excess || plan.picks.size() >= budget) break;
      plan.picks.push_back({o.service->name, standing.backend, o.id, f->flow_id, now_ns - f->created_ns});
      ++standing.picked;
    }
    if (standing.picked < standing.excess) {
      if (plan.picks.size() >= budget) standing.reason += "; rate limit reached for now";
      else standing.reason += "; no more flows older than the minimum age";
    }
  }
  return plan;
}

std::size_t CloseRateLimiter::budget(std::chrono::steady_clock::time_point now) {
  while (!recent_.empty() && now - recent_.front() >= std::chrono::seconds(1)) recent_.pop_front();
  return recent_.size() >= per_second_ ? 0 : per_second_ - recent_.size();
}

void CloseRateLimiter::record(std::chrono::steady_clock::time_point now, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) recent_.push_back(now);
}

}  // namespace wsteer::proxy
