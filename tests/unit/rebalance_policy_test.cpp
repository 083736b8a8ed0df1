// The rebalance policy: which flows a node closes after a scale-up, as a pure function.
#include "proxy/rebalance_policy.h"

#include <gtest/gtest.h>

#include <set>

namespace wsteer::proxy {
namespace {

using namespace std::chrono_literals;
constexpr std::uint64_t kSec = 1'000'000'000ULL;
constexpr std::uint64_t kNow = 1000 * kSec;

RebalanceSettings settings(double above = 1.2, std::uint32_t rate = 100, std::chrono::nanoseconds min_age = 10s) {
  return {above, rate, min_age};
}

// A service whose backend i has counts[i] connections, each backed by flows created one second
// apart, the oldest first (flow ids backend*10000 + n, created at n seconds).
RebalanceServiceView service(const std::vector<std::uint64_t>& counts) {
  RebalanceServiceView s{"ns/chat", {}, {}};
  for (std::uint32_t i = 0; i < counts.size(); ++i) {
    s.backends.push_back({i, "b" + std::to_string(i), true, counts[i]});
    for (std::uint64_t n = 0; n < counts[i]; ++n) s.flows.push_back({i * 10000 + n, i, n * kSec, false, true});
  }
  return s;
}

std::size_t picks_of(const RebalancePlan& plan, std::uint32_t backend) {
  std::size_t n = 0;
  for (const auto& p : plan.picks) n += p.backend_id == backend;
  return n;
}

TEST(RebalancePolicy, OffPicksNothing) {
  EXPECT_TRUE(plan_rebalance({service({300, 300, 0})}, settings(0), 100, kNow).picks.empty());
}

TEST(RebalancePolicy, ClosesTheExcessAboveTheThresholdOldestFirst) {
  // 300 + 300 + 0: mean 200, threshold 240 -> 60 from each of b0 and b1, none from b2.
  const auto plan = plan_rebalance({service({300, 300, 0})}, settings(1.2), 1000, kNow);
  EXPECT_EQ(picks_of(plan, 0), 60u);
  EXPECT_EQ(picks_of(plan, 1), 60u);
  EXPECT_EQ(picks_of(plan, 2), 0u);
  // Oldest first: b0's picks are its flows 0..59.
  std::set<std::uint64_t> b0;
  for (const auto& p : plan.picks)
    if (p.backend_id == 0) b0.insert(p.flow_id);
  EXPECT_EQ(*b0.begin(), 0u);
  EXPECT_EQ(*b0.rbegin(), 59u);
  ASSERT_EQ(plan.backends.size(), 3u);
  EXPECT_DOUBLE_EQ(plan.backends[0].mean, 200);
  EXPECT_DOUBLE_EQ(plan.backends[0].threshold, 240);
  EXPECT_EQ(plan.backends[0].excess, 60u);
}

TEST(RebalancePolicy, AtOrBelowTheThresholdKeepsEverything) {
  // mean 200, threshold 240: 240 is not above it.
  EXPECT_TRUE(plan_rebalance({service({240, 180, 180})}, settings(1.2), 1000, kNow).picks.empty());
}

TEST(RebalancePolicy, BudgetIsNodeWideAndTheWorstGoesFirst) {
  auto a = service({400, 100, 100});  // mean 200, threshold 240: 160 over
  auto b = service({250, 150, 200});  // threshold 240: 10 over
  b.name = "ns/other";
  const auto plan = plan_rebalance({b, a}, settings(1.2), 20, kNow);
  ASSERT_EQ(plan.picks.size(), 20u);
  for (const auto& p : plan.picks) EXPECT_EQ(p.service, "ns/chat");  // the worst ratio first
}

TEST(RebalancePolicy, NeverYoungerThanTheMinimumAge) {
  // Flows created at 0..299 s; now 1000 s; min age 900 s: only those created at <= 100 s qualify.
  const auto plan = plan_rebalance({service({300, 300, 0})}, settings(1.2, 100, 900s), 1000, kNow);
  for (const auto& p : plan.picks) EXPECT_GE(p.age_ns, 900 * kSec);
  EXPECT_EQ(picks_of(plan, 0), 60u);  // 101 old enough, 60 needed
  const auto strict = plan_rebalance({service({300, 300, 0})}, settings(1.2, 100, 990s), 1000, kNow);
  EXPECT_EQ(picks_of(strict, 0), 11u);  // created at 0..10 s
  EXPECT_NE(strict.backends[0].reason.find("minimum age"), std::string::npos);
}

TEST(RebalancePolicy, SingleActiveBackendIsLeftAlone) {
  const auto plan = plan_rebalance({service({500})}, settings(1.2), 1000, kNow);
  EXPECT_TRUE(plan.picks.empty());
  EXPECT_NE(plan.backends[0].reason.find("only active backend"), std::string::npos);
}

TEST(RebalancePolicy, DrainingBackendsNeitherCountNorLoseFlows) {
  auto s = service({300, 300, 100});
  s.backends[1].active = false;  // draining: out of the mean, keeps its flows
  // Active: b0 300, b2 100 -> mean 200, threshold 240: b0 gives 60, b1 nothing.
  const auto plan = plan_rebalance({s}, settings(1.2), 1000, kNow);
  EXPECT_EQ(picks_of(plan, 0), 60u);
  EXPECT_EQ(picks_of(plan, 1), 0u);
  // With the draining one the only other backend, b0 is alone: nothing.
  auto alone = service({300, 300});
  alone.backends[1].active = false;
  EXPECT_TRUE(plan_rebalance({alone}, settings(1.2), 1000, kNow).picks.empty());
}

TEST(RebalancePolicy, FlowsAlreadyClosingCountTowardsTheThreshold) {
  auto s = service({300, 300, 0});
  for (auto& f : s.flows)
    if (f.backend_id == 0 && f.flow_id < 50) f.closing = true;  // 50 of b0's 60 already under way
  const auto plan = plan_rebalance({s}, settings(1.2), 1000, kNow);
  EXPECT_EQ(picks_of(plan, 0), 10u);
  for (const auto& p : plan.picks) EXPECT_FALSE(p.backend_id == 0 && p.flow_id < 50);
  EXPECT_EQ(plan.backends[0].closing, 50u);
}

TEST(RebalancePolicy, UntrackedFlowsAreSkipped) {
  auto s = service({300, 300, 0});
  for (auto& f : s.flows)
    if (f.backend_id == 0 && f.flow_id < 5) f.closable = false;
  const auto plan = plan_rebalance({s}, settings(1.2), 1000, kNow);
  EXPECT_EQ(picks_of(plan, 0), 60u);
  for (const auto& p : plan.picks) EXPECT_FALSE(p.backend_id == 0 && p.flow_id < 5);
}

TEST(RebalanceRateLimiter, AtMostRatePerSecond) {
  CloseRateLimiter limiter(10);
  const auto t0 = std::chrono::steady_clock::time_point{} + 100s;
  EXPECT_EQ(limiter.budget(t0), 10u);
  limiter.record(t0, 7);
  EXPECT_EQ(limiter.budget(t0 + 500ms), 3u);
  limiter.record(t0 + 500ms, 3);
  EXPECT_EQ(limiter.budget(t0 + 999ms), 0u);
  EXPECT_EQ(limiter.budget(t0 + 1000ms), 7u);  // the first 7 left the window
  EXPECT_EQ(limiter.budget(t0 + 1500ms), 10u);
}

}  // namespace
}  // namespace wsteer::proxy
