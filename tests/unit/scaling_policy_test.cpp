// The scaler's desired-replicas policy: the formula, the tolerance, min/max, the scale-up step,
// the scale-down window, and holding still while an agent's count is missing or stale.
#include "scaler/scaling_policy.h"

#include <gtest/gtest.h>

#include <ostream>
#include <stdexcept>

namespace wsteer::scaler {

// Failures print "stabilizing", not the enum's bytes.
void PrintTo(Reason reason, std::ostream* os) { *os << to_string(reason); }

namespace {

using namespace std::chrono_literals;

ScalingPolicyConfig base_config() {
  ScalingPolicyConfig c;
  c.target_connections_per_pod = 100;
  c.min_replicas = 2;
  c.max_replicas = 20;
  c.scale_up_max_pods = 0;     // no step limit unless a test sets one
  c.scale_up_max_percent = 0;
  c.scale_down_window = 300s;
  c.tolerance = 0.1;
  c.report_stale_after = 30s;
  return c;
}

// Two agents (nodes a and b), each reporting connections on two backends.
class ScalingPolicyTest : public ::testing::Test {
 protected:
  Clock::time_point t0_ = Clock::time_point{} + 1000h;

  DecisionInput input(Clock::time_point now, int current, std::uint64_t a, std::uint64_t b) const {
    DecisionInput in;
    in.now = now;
    in.current_replicas = current;
    in.expected_agents = {"agent-a", "agent-b"};
    // Split each agent's count over two backends: the policy must sum them all.
    in.reports.push_back({"agent-a", {{"10.0.0.1:80", a / 2}, {"10.0.0.2:80", a - a / 2}}, now - 1s});
    in.reports.push_back({"agent-b", {{"10.0.0.1:80", b / 2}, {"10.0.0.2:80", b - b / 2}}, now - 1s});
    return in;
  }
};

TEST_F(ScalingPolicyTest, ConfigIsValidated) {
  auto c = base_config();
  c.target_connections_per_pod = 0;
  EXPECT_THROW(ScalingPolicy{c}, std::invalid_argument);
  c = base_config();
  c.max_replicas = 1;  // below min 2
  EXPECT_THROW(ScalingPolicy{c}, std::invalid_argument);
  c = base_config();
  c.min_replicas = 0;
  EXPECT_THROW(ScalingPolicy{c}, std::invalid_argument);
  c = base_config();
  c.tolerance = 1.5;
  EXPECT_THROW(ScalingPolicy{c}, std::invalid_argument);
  EXPECT_NO_THROW(ScalingPolicy{base_config()});
}

TEST_F(ScalingPolicyTest, ScalesUpAtOnceToCeilOfTotalOverTarget) {
  ScalingPolicy p(base_config());
  // 401 + 300 = 701 connections at 100 per pod: ceil = 8 pods.
  const auto d = p.decide(input(t0_, 3, 401, 300));
  EXPECT_EQ(d.reason, Reason::scale_up) << d.text;
  EXPECT_EQ(d.desired, 8);
  EXPECT_EQ(d.current, 3);
  EXPECT_EQ(d.total_connections, 701u);
  EXPECT_TRUE(d.changes());
  EXPECT_NE(d.text.find("3 -> 8"), std::string::npos) << d.text;
  EXPECT_STREQ(to_string(d.reason), "scale_up");
}

TEST_F(ScalingPolicyTest, WithinToleranceKeepsTheReplicas) {
  ScalingPolicy p(base_config());
  // 5 pods at 100: 540 is 8% above, 460 is 8% below: both within 10%.
  auto d = p.decide(input(t0_, 5, 270, 270));
  EXPECT_EQ(d.reason, Reason::within_tolerance) << d.text;
  EXPECT_EQ(d.desired, 5);
  EXPECT_FALSE(d.changes());
  d = p.decide(input(t0_ + 15s, 5, 230, 230));
  EXPECT_EQ(d.reason, Reason::within_tolerance) << d.text;
  EXPECT_EQ(d.desired, 5);
  // 12% above is outside: ceil(560/100) = 6.
  d = p.decide(input(t0_ + 30s, 5, 280, 280));
  EXPECT_EQ(d.reason, Reason::scale_up) << d.text;
  EXPECT_EQ(d.desired, 6);
}

TEST_F(ScalingPolicyTest, ClampsToMaxReplicas) {
  ScalingPolicy p(base_config());
  const auto d = p.decide(input(t0_, 4, 5000, 5000));  // wants 100
  EXPECT_EQ(d.reason, Reason::at_max) << d.text;
  EXPECT_EQ(d.desired, 20);
  EXPECT_EQ(d.recommendation, 20);
  // Already at max and still overloaded: no change, and the reason says why.
  const auto again = p.decide(input(t0_ + 15s, 20, 5000, 5000));
  EXPECT_EQ(again.reason, Reason::at_max) << again.text;
  EXPECT_EQ(again.desired, 20);
  EXPECT_FALSE(again.changes());
}

TEST_F(ScalingPolicyTest, ScaleUpIsLimitedByPodsStep) {
  auto c = base_config();
  c.scale_up_max_pods = 3;
  ScalingPolicy p(c);
  const auto d = p.decide(input(t0_, 4, 600, 600));  // wants 12
  EXPECT_EQ(d.reason, Reason::step_limited) << d.text;
  EXPECT_EQ(d.desired, 7);
  EXPECT_EQ(d.recommendation, 12);
  // The next decision takes the next step from the new current.
  const auto next = p.decide(input(t0_ + 15s, 7, 600, 600));
  EXPECT_EQ(next.reason, Reason::step_limited) << next.text;
  EXPECT_EQ(next.desired, 10);
  const auto last = p.decide(input(t0_ + 30s, 10, 600, 600));
  EXPECT_EQ(last.reason, Reason::scale_up) << last.text;
  EXPECT_EQ(last.desired, 12);
}

TEST_F(ScalingPolicyTest, ScaleUpIsLimitedByPercentStepAndTheLargerAllowanceWins) {
  auto c = base_config();
  c.scale_up_max_percent = 50;
  ScalingPolicy p(c);
  auto d = p.decide(input(t0_, 4, 1000, 0));  // wants 10, 50% of 4 = +2
  EXPECT_EQ(d.reason, Reason::step_limited) << d.text;
  EXPECT_EQ(d.desired, 6);

  c.scale_up_max_pods = 5;  // +5 pods beats +50% of 4
  ScalingPolicy both(c);
  d = both.decide(input(t0_, 4, 1000, 0));
  EXPECT_EQ(d.reason, Reason::step_limited) << d.text;
  EXPECT_EQ(d.desired, 9);

  c.scale_up_max_pods = 1;  // +50% of 10 = +5 beats +1 pod
  ScalingPolicy percent_wins(c);
  d = percent_wins.decide(input(t0_, 10, 1000, 1000));  // wants 20
  EXPECT_EQ(d.desired, 15);
}

TEST_F(ScalingPolicyTest, PercentStepRoundsUpToWholePods) {
  auto c = base_config();
  c.min_replicas = 1;
  c.scale_up_max_percent = 10;  // 10% of 2 pods rounds up to 1 pod, not down to 0
  ScalingPolicy p(c);
  const auto d = p.decide(input(t0_, 2, 500, 500));
  EXPECT_EQ(d.reason, Reason::step_limited) << d.text;
  EXPECT_EQ(d.desired, 3);
}

TEST_F(ScalingPolicyTest, ScaleDownWaitsForTheWindowAndTakesItsHighestRecommendation) {
  ScalingPolicy p(base_config());
  // Busy: 10 pods' worth.
  auto d = p.decide(input(t0_, 10, 500, 500));
  EXPECT_EQ(d.reason, Reason::within_tolerance) << d.text;
  // Load drops to 6 pods' worth, then to 4: held for the window.
  d = p.decide(input(t0_ + 60s, 10, 300, 300));
  EXPECT_EQ(d.reason, Reason::stabilizing) << d.text;
  EXPECT_EQ(d.desired, 10);
  EXPECT_EQ(d.recommendation, 6);
  d = p.decide(input(t0_ + 120s, 10, 200, 200));
  EXPECT_EQ(d.reason, Reason::stabilizing) << d.text;
  d = p.decide(input(t0_ + 299s, 10, 200, 200));
  EXPECT_EQ(d.reason, Reason::stabilizing) << d.text;
  EXPECT_EQ(d.desired, 10);
  // 300 s after the busy decision it leaves the window: the highest left is the 6 from t0+60.
  d = p.decide(input(t0_ + 300s, 10, 200, 200));
  EXPECT_EQ(d.reason, Reason::scale_down) << d.text;
  EXPECT_EQ(d.desired, 6);
  // And once the 6 has aged out too, down to the 4 the load needs.
  d = p.decide(input(t0_ + 360s, 6, 200, 200));
  EXPECT_EQ(d.reason, Reason::scale_down) << d.text;
  EXPECT_EQ(d.desired, 4);
}

TEST_F(ScalingPolicyTest, ABriefDipInsideTheWindowNeverScalesDown) {
  ScalingPolicy p(base_config());
  for (int i = 0; i < 40; ++i) {
    // Every fourth decision (once a minute) sees a dip to 2 pods' worth; the rest see 8.
    const bool dip = i % 4 == 3;
    const auto d = p.decide(input(t0_ + i * 15s, 8, dip ? 100 : 400, dip ? 100 : 400));
    EXPECT_EQ(d.desired, 8) << "decision " << i << ": " << d.text;
  }
}

TEST_F(ScalingPolicyTest, ZeroConnectionsGoToMinReplicasAfterTheWindow) {
  ScalingPolicy p(base_config());
  auto d = p.decide(input(t0_, 6, 0, 0));
  EXPECT_EQ(d.reason, Reason::stabilizing) << d.text;  // a fresh policy has no window yet
  EXPECT_EQ(d.desired, 6);
  EXPECT_EQ(d.recommendation, 2);
  d = p.decide(input(t0_ + 300s, 6, 0, 0));
  EXPECT_EQ(d.reason, Reason::at_min) << d.text;
  EXPECT_EQ(d.desired, 2);
  EXPECT_EQ(d.total_connections, 0u);
  d = p.decide(input(t0_ + 315s, 2, 0, 0));
  EXPECT_EQ(d.reason, Reason::at_min) << d.text;
  EXPECT_FALSE(d.changes());
}

TEST_F(ScalingPolicyTest, ANewPolicyAndAResetOneDoNotScaleDownBeforeAWholeWindow) {
  ScalingPolicy p(base_config());
  auto d = p.decide(input(t0_, 10, 150, 150));  // wants 3
  EXPECT_EQ(d.reason, Reason::stabilizing) << d.text;
  EXPECT_EQ(d.desired, 10);
  d = p.decide(input(t0_ + 300s, 10, 150, 150));
  EXPECT_EQ(d.reason, Reason::scale_down) << d.text;
  EXPECT_EQ(d.desired, 3);

  p.reset();  // lost and regained leadership
  d = p.decide(input(t0_ + 400s, 8, 150, 150));
  EXPECT_EQ(d.reason, Reason::stabilizing) << d.text;
  EXPECT_EQ(d.desired, 8);
}

TEST_F(ScalingPolicyTest, ZeroWindowScalesDownAtOnce) {
  auto c = base_config();
  c.scale_down_window = 0s;
  ScalingPolicy p(c);
  p.decide(input(t0_, 10, 500, 500));
  const auto d = p.decide(input(t0_ + 15s, 10, 150, 150));
  EXPECT_EQ(d.reason, Reason::scale_down) << d.text;
  EXPECT_EQ(d.desired, 3);
}

TEST_F(ScalingPolicyTest, BelowMinGoesToMinAtOnceDespiteStepAndAboveMaxToMaxDespiteWindow) {
  auto c = base_config();
  c.min_replicas = 6;
  c.scale_up_max_pods = 1;
  ScalingPolicy p(c);
  auto d = p.decide(input(t0_, 1, 0, 0));
  EXPECT_EQ(d.reason, Reason::at_min) << d.text;
  EXPECT_EQ(d.desired, 6);
  // 40 replicas on a max of 20 (someone scaled by hand): straight to 20, no window.
  d = p.decide(input(t0_ + 15s, 40, 5000, 5000));
  EXPECT_EQ(d.reason, Reason::at_max) << d.text;
  EXPECT_EQ(d.desired, 20);
}

TEST_F(ScalingPolicyTest, MissingAgentHoldsEveryChangeAndSaysWhich) {
  ScalingPolicy p(base_config());
  auto in = input(t0_, 3, 2000, 2000);
  in.expected_agents.push_back("agent-c");
  auto d = p.decide(in);
  EXPECT_EQ(d.reason, Reason::missing_agent) << d.text;
  EXPECT_EQ(d.desired, 3);
  EXPECT_FALSE(d.changes());
  ASSERT_EQ(d.agents, std::vector<std::string>{"agent-c"});
  EXPECT_NE(d.text.find("agent-c"), std::string::npos) << d.text;
  EXPECT_STREQ(to_string(d.reason), "missing_agent");
}

TEST_F(ScalingPolicyTest, StaleAgentBlocksScaleDownAndSaysWhich) {
  auto c = base_config();
  c.scale_down_window = 0s;
  ScalingPolicy p(c);
  auto in = input(t0_, 10, 0, 0);
  in.reports[1].received = t0_ - 31s;  // agent-b last answered 31 s ago
  auto d = p.decide(in);
  EXPECT_EQ(d.reason, Reason::stale_agent) << d.text;
  EXPECT_EQ(d.desired, 10);
  EXPECT_EQ(d.agents, std::vector<std::string>{"agent-b"});
  EXPECT_NE(d.text.find("agent-b (31s old)"), std::string::npos) << d.text;
  // Exactly at the limit it still counts; a newer report of the same agent replaces the old.
  in.reports[1].received = t0_ - 30s;
  EXPECT_EQ(p.decide(in).reason, Reason::at_min);
  in.reports[1].received = t0_ - 60s;
  in.reports.push_back({"agent-b", {{"10.0.0.1:80", 0}}, t0_ - 2s});
  EXPECT_EQ(p.decide(in).reason, Reason::at_min);
}

TEST_F(ScalingPolicyTest, MissingWinsOverStaleAndTextNamesBoth) {
  ScalingPolicy p(base_config());
  auto in = input(t0_, 3, 0, 0);
  in.expected_agents.push_back("agent-c");
  in.reports[0].received = t0_ - 1h;
  const auto d = p.decide(in);
  EXPECT_EQ(d.reason, Reason::missing_agent) << d.text;
  EXPECT_NE(d.text.find("agent-a"), std::string::npos) << d.text;
  EXPECT_NE(d.text.find("agent-c"), std::string::npos) << d.text;
}

TEST_F(ScalingPolicyTest, ReportsOfUnexpectedAgentsAreIgnored) {
  ScalingPolicy p(base_config());
  auto in = input(t0_, 5, 250, 250);
  in.reports.push_back({"agent-gone", {{"10.0.0.1:80", 100000}}, t0_});
  const auto d = p.decide(in);
  EXPECT_EQ(d.reason, Reason::within_tolerance) << d.text;
  EXPECT_EQ(d.total_connections, 500u);
}

TEST_F(ScalingPolicyTest, NoAgentsAndZeroReplicasHoldStill) {
  ScalingPolicy p(base_config());
  auto in = input(t0_, 5, 0, 0);
  in.expected_agents.clear();
  auto d = p.decide(in);
  EXPECT_EQ(d.reason, Reason::no_agents) << d.text;
  EXPECT_EQ(d.desired, 5);
  d = p.decide(input(t0_, 0, 5000, 5000));
  EXPECT_EQ(d.reason, Reason::scaled_to_zero) << d.text;
  EXPECT_EQ(d.desired, 0);
}

TEST_F(ScalingPolicyTest, MissingReportsDoNotEnterTheWindow) {
  auto c = base_config();
  c.scale_down_window = 60s;
  ScalingPolicy p(c);
  p.decide(input(t0_, 4, 200, 200));  // recommends 4
  auto gap = input(t0_ + 30s, 4, 0, 0);
  gap.reports.pop_back();
  EXPECT_EQ(p.decide(gap).reason, Reason::missing_agent);
  // 60 s after the first decision the 4 leaves the window; the gap recorded nothing.
  const auto d = p.decide(input(t0_ + 60s, 4, 150, 150));
  EXPECT_EQ(d.reason, Reason::scale_down) << d.text;
  EXPECT_EQ(d.desired, 3);
}

}  // namespace
}  // namespace wsteer::scaler
