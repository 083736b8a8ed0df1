// The scaler's decision: how many replicas the target workload should have, given the active
// connection counts every agent reports for its Service. Pure logic (no I/O, no clock of its own)
// in the HPA's terms: desired = ceil(total / target per pod) within a tolerance, clamped to
// [min, max]; a scale-up happens at once but at most one step per decision; a scale-down only to
// the highest recommendation of the stabilization window; and nothing moves while an expected
// agent's report is missing or stale, because a partial sum would look like a drop in load.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

namespace wsteer::scaler {

using Clock = std::chrono::steady_clock;

struct ScalingPolicyConfig {
  std::uint64_t target_connections_per_pod = 0;  // required, >= 1
  int min_replicas = 1;                          // >= 1 (a pod-less Service has no connections to count)
  int max_replicas = 0;                          // required, >= min_replicas
  // Scale-up step per decision: at most +pods and/or +percent of the current replicas. When both
  // are set the larger allowance wins (the HPA's default selectPolicy: Max); 0 and 0 = no limit.
  // The percent allowance rounds up, so a percent limit still moves a small workload.
  int scale_up_max_pods = 4;
  int scale_up_max_percent = 100;
  // A scale-down goes no lower than the highest recommendation made within this window.
  std::chrono::seconds scale_down_window{300};
  // No change while |total / (target * current) - 1| <= tolerance.
  double tolerance = 0.1;
  // An agent whose last report is older than this holds every change.
  std::chrono::seconds report_stale_after{30};
};

// Throws std::invalid_argument naming the bad setting.
void validate(const ScalingPolicyConfig& config);

// One agent's view: its active connections per backend of the target Service.
struct AgentReport {
  std::string agent;                               // the agent's pod name, as discovery names it
  std::map<std::string, std::uint64_t> active;     // backend -> active connections
  Clock::time_point received;                      // when the leader last got this report
};

struct DecisionInput {
  Clock::time_point now;
  int current_replicas = 0;                  // the scale subresource's spec.replicas
  std::vector<std::string> expected_agents;  // from discovery; reports from others are ignored
  std::vector<AgentReport> reports;          // the newest one per agent counts
};

enum class Reason {
  scale_up,          // desired > current, not limited
  scale_down,        // desired < current, the window allows it
  within_tolerance,  // the load matches the current replicas (within the tolerance)
  stabilizing,       // wants fewer pods, but the window's highest recommendation holds them
  missing_agent,     // an expected agent has not reported: no change
  stale_agent,       // an expected agent's report is too old: no change
  no_agents,         // discovery found no agent at all: no change
  at_min,            // the recommendation was raised to min_replicas
  at_max,            // the recommendation was cut to max_replicas
  step_limited,      // a scale-up cut to the step limit
  scaled_to_zero,    // the target has 0 replicas: left alone (as the HPA does), until scaled by hand
};

// "scale_up", "stale_agent", ... (a metric label value).
const char* to_string(Reason reason);

struct Decision {
  int current = 0;
  int desired = 0;
  Reason reason = Reason::within_tolerance;
  std::string text;                  // one log line saying why
  std::vector<std::string> agents;   // for missing_agent / stale_agent: which ones (names only)
  std::uint64_t total_connections = 0;
  int recommendation = 0;            // clamped ceil(total / target) before step and window
  bool changes() const { return desired != current; }
};

// The sum of the expected agents' newest reports, or why there is none: missing_agent (an
// expected agent never reported), stale_agent (its newest report is older than stale_after) or
// no_agents. A partial sum is never returned: it would look like a drop in load.
struct ReportSum {
  bool complete = false;
  std::uint64_t total = 0;           // when complete
  Reason problem = Reason::no_agents;  // when not complete
  std::vector<std::string> agents;   // the agents that hold it (names only)
  std::string text;                  // "no report from a, b; stale report from c (40s old)"
};
ReportSum sum_reports(const DecisionInput& input, std::chrono::seconds stale_after);

class ScalingPolicy {
 public:
  explicit ScalingPolicy(ScalingPolicyConfig config);  // validate()s

  const ScalingPolicyConfig& config() const { return config_; }

  // One decision. Remembers the recommendation for the scale-down window; call it once per
  // sync period with a non-decreasing `now`.
  Decision decide(const DecisionInput& input);

  // Forget the window (call on losing leadership). A policy that has not yet been deciding for a
  // whole window never scales down: a new leader has none of the old leader's memory, and a
  // leadership flap must not turn into a scale-down.
  void reset();

 private:
  struct Recommendation {
    Clock::time_point at;
    int replicas;
  };
  ScalingPolicyConfig config_;
  std::deque<Recommendation> history_;  // within scale_down_window, oldest first
  bool started_ = false;
  Clock::time_point first_decision_{};
};

}  // namespace wsteer::scaler
