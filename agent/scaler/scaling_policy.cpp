#include "scaler/scaling_policy.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>

namespace wsteer::scaler {
namespace {

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

long long seconds_of(Clock::duration d) { return std::chrono::duration_cast<std::chrono::seconds>(d).count(); }

}  // namespace

void validate(const ScalingPolicyConfig& c) {
  const auto bad = [](const std::string& why) { return std::invalid_argument("scaling: " + why); };
  if (c.target_connections_per_pod < 1) throw bad("target-connections-per-pod must be at least 1");
  if (c.min_replicas < 1) throw bad("min-replicas must be at least 1");
  if (c.max_replicas < c.min_replicas)
    throw bad("max-replicas (" + std::to_string(c.max_replicas) + ") must be at least min-replicas (" +
              std::to_string(c.min_replicas) + ")");
  if (c.scale_up_max_pods < 0 || c.scale_up_max_percent < 0) throw bad("scale-up-step must not be negative");
  if (c.scale_down_window.count() < 0) throw bad("scale-down-window must not be negative");
  if (!(c.tolerance >= 0 && c.tolerance < 1)) throw bad("tolerance must be in [0, 1)");
  if (c.report_stale_after.count() < 1) throw bad("report-stale-after must be at least 1s");
}

const char* to_string(Reason reason) {
  switch (reason) {
    case Reason::scale_up: return "scale_up";
    case Reason::scale_down: return "scale_down";
    case Reason::within_tolerance: return "within_tolerance";
    case Reason::stabilizing: return "stabilizing";
    case Reason::missing_agent: return "missing_agent";
    case Reason::stale_agent: return "stale_agent";
    case Reason::no_agents: return "no_agents";
    case Reason::at_min: return "at_min";
    case Reason::at_max: return "at_max";
    case Reason::step_limited: return "step_limited";
    case Reason::scaled_to_zero: return "scaled_to_zero";
  }
  return "unknown";
}

ReportSum sum_reports(const DecisionInput& in, std::chrono::seconds stale_after) {
  ReportSum sum;
  if (in.expected_agents.empty()) {
    sum.text = "no agent discovered";
    return sum;
  }
  std::map<std::string, const AgentReport*> newest;
  for (const auto& r : in.reports) {
    auto& slot = newest[r.agent];
    if (!slot || r.received > slot->received) slot = &r;
  }
  std::vector<std::string> missing, stale, stale_text;
  for (const auto& agent : std::set<std::string>(in.expected_agents.begin(), in.expected_agents.end())) {
    const auto it = newest.find(agent);
    if (it == newest.end()) {
      missing.push_back(agent);
      continue;
    }
    if (in.now - it->second->received > stale_after) {
      stale.push_back(agent);
      stale_text.push_back(agent + " (" + std::to_string(seconds_of(in.now - it->second->received)) + "s old)");
      continue;
    }
    for (const auto& [backend, active] : it->second->active) sum.total += active;
  }
  if (missing.empty() && stale.empty()) {
    sum.complete = true;
    return sum;
  }
  sum.total = 0;
  sum.problem = missing.empty() ? Reason::stale_agent : Reason::missing_agent;
  sum.agents = missing.empty() ? stale : missing;
  if (!missing.empty()) sum.text += "no report from " + join(missing) + "; ";
  if (!stale.empty()) sum.text += "stale report from " + join(stale_text) + "; ";
  sum.text.resize(sum.text.size() - 2);
  return sum;
}

ScalingPolicy::ScalingPolicy(ScalingPolicyConfig config) : config_(config) { validate(config_); }

void ScalingPolicy::reset() {
  history_.clear();
  started_ = false;
}

Decision ScalingPolicy::decide(const DecisionInput& in) {
  Decision d;
  d.current = d.desired = in.current_replicas;
  const auto hold = [&](Reason reason, std::string text) {
    d.reason = reason;
    d.text = std::move(text);
    return d;
  };

  // As the HPA: 0 replicas means someone switched the workload off on purpose.
  if (in.current_replicas <= 0)
    return hold(Reason::scaled_to_zero, "the target has 0 replicas: left alone until it is scaled up by hand");

  // Every expected agent must have a fresh report, or the sum is a guess.
  const auto sum = sum_reports(in, config_.report_stale_after);
  if (!sum.complete) {
    d.agents = sum.agents;
    return hold(sum.problem, "holding " + std::to_string(d.current) + " replicas: " + sum.text);
  }
  const std::uint64_t total = sum.total;
  d.total_connections = total;

  // The recommendation: enough pods for the load, unless the load is close enough to the current.
  const auto target = config_.target_connections_per_pod;
  const std::uint64_t raw64 = total / target + (total % target != 0 ? 1 : 0);
  const int raw = static_cast<int>(std::min<std::uint64_t>(raw64, 1u << 30));
  const double ratio = static_cast<double>(total) / (static_cast<double>(target) * d.current);
  const bool within = std::abs(ratio - 1.0) <= config_.tolerance;
  int rec = within ? d.current : raw;
  Reason clamp = Reason::within_tolerance;
  if (rec < config_.min_replicas) rec = config_.min_replicas, clamp = Reason::at_min;
  if (rec > config_.max_replicas) rec = config_.max_replicas, clamp = Reason::at_max;
  d.recommendation = rec;

  // The window remembers every recommendation; a scale-down goes no lower than their highest.
  if (!started_) started_ = true, first_decision_ = in.now;
  history_.push_back({in.now, rec});
  while (!history_.empty() && in.now - history_.front().at >= config_.scale_down_window && history_.size() > 1)
    history_.pop_front();
  int window_high = rec;
  for (const auto& h : history_)
    if (in.now - h.at < config_.scale_down_window) window_high = std::max(window_high, h.replicas);

  const auto load = std::to_string(total) + " connections, " + std::to_string(target) + " per pod";
  const auto from_to = [&](int to) { return std::to_string(d.current) + " -> " + std::to_string(to) + " replicas"; };

  if (rec > d.current) {
    const bool unlimited = config_.scale_up_max_pods == 0 && config_.scale_up_max_percent == 0;
    const long long by_percent = static_cast<long long>(std::ceil(d.current * (config_.scale_up_max_percent / 100.0)));
    const long long step = std::max<long long>({1, config_.scale_up_max_pods, by_percent});
    // min-replicas overrides the step: below it the workload is misconfigured, not under load.
    const long long limit = std::max<long long>(d.current + step, config_.min_replicas);
    if (!unlimited && rec > limit) {
      d.desired = static_cast<int>(limit);
      return hold(Reason::step_limited, from_to(d.desired) + " (wants " + std::to_string(rec) + ", step limit +" +
                                            std::to_string(step) + "): " + load);
    }
    d.desired = rec;
    if (clamp != Reason::within_tolerance)
      return hold(clamp, from_to(rec) + (clamp == Reason::at_max ? " (max-replicas)" : " (min-replicas)") + ": " + load);
    return hold(Reason::scale_up, from_to(rec) + ": " + load);
  }

  if (rec < d.current) {
    const bool full_window = in.now - first_decision_ >= config_.scale_down_window;
    // max-replicas overrides the window (as min-replicas overrides the step).
    const int floor = std::min(std::max(rec, full_window ? window_high : d.current), config_.max_replicas);
    if (floor >= d.current) {
      const auto why = full_window ? "the window's highest recommendation is " + std::to_string(window_high)
                                   : std::string("not yet deciding for a whole scale-down window");
      return hold(Reason::stabilizing, "holding " + std::to_string(d.current) + " replicas (wants " + std::to_string(rec) +
                                           ", " + why + "): " + load);
    }
    d.desired = floor;
    if (floor == rec && clamp != Reason::within_tolerance)
      return hold(clamp, from_to(floor) + (clamp == Reason::at_max ? " (max-replicas)" : " (min-replicas)") + ": " + load);
    if (floor < std::max(rec, full_window ? window_high : d.current))
      return hold(Reason::at_max, from_to(floor) + " (max-replicas): " + load);
    return hold(Reason::scale_down, from_to(floor) + (floor > rec ? " (window holds " + std::to_string(floor) + ")" : "") + ": " + load);
  }

  if (!within && clamp != Reason::within_tolerance)
    return hold(clamp, "holding " + std::to_string(d.current) + " replicas (" +
                           (clamp == Reason::at_min ? "min-replicas" : "max-replicas") + "): " + load);
  return hold(Reason::within_tolerance, "holding " + std::to_string(d.current) + " replicas: " + load);
}

}  // namespace wsteer::scaler
