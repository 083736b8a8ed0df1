// MaglevSteering::choose() and the backend states behind it: candidates, draining, circuit
// breaker, probes, max-connections, bounded load, ids across endpoint updates.
#include "steering/maglev_steering.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <set>
#include <thread>

namespace wsteer::steering {
namespace {

namespace http = boost::beast::http;
using namespace std::chrono_literals;

Request with_key(const std::string& websocket_key, std::string target = "/ws") {
  Request r{http::verb::get, target, 11};
  r.set(http::field::sec_websocket_key, websocket_key);
  return r;
}

Endpoint pod(int i, std::uint32_t weight = 1, bool draining = false, std::uint32_t max_connections = 0) {
  return {"pod-" + std::to_string(i), boost::asio::ip::make_address("10.0." + std::to_string(i / 250) + "." +
                                                                    std::to_string(i % 250 + 1)),
          8080, weight, draining, max_connections};
}

EndpointList pods(int n) {
  EndpointList list;
  for (int i = 0; i < n; ++i) list.push_back(pod(i));
  return list;
}

// A steering with a hand-driven monotonic clock.
class SteeringTest : public ::testing::Test {
 protected:
  std::unique_ptr<MaglevSteering> make(SteeringConfig config = {}) {
    MaglevSteeringOptions options;
    options.breaker = {3, 10s};
    options.monotonic_clock = [this] { return now_; };
    return std::make_unique<MaglevSteering>(config, options);
  }

  static std::map<std::string, BackendStatus> by_name(const Steering& s) {
    std::map<std::string, BackendStatus> m;
    for (const auto& b : s.snapshot()) m[b.backend.name] = b;
    return m;
  }

  static std::uint32_t id_of(const Steering& s, const std::string& name) { return by_name(s).at(name).backend.id; }

  // A key whose first choice is `name`.
  static Request key_landing_on(const Steering& s, const std::string& name) {
    for (int i = 0;; ++i) {
      auto r = with_key("k" + std::to_string(i));
      if (s.choose(r, {}, 1).candidates.at(0).name == name) return r;
    }
  }

  std::chrono::steady_clock::time_point now_{};
};

TEST_F(SteeringTest, CandidatesAreDistinctInPreferenceOrderAndBoundedByMaxTries) {
  auto s = make();
  s->update_endpoints(pods(5));
  std::set<std::string> first_choices;
  for (int i = 0; i < 200; ++i) {
    const auto choice = s->choose(with_key("k" + std::to_string(i)), {}, 3);
    ASSERT_EQ(choice.result, Choice::Result::ok);
    EXPECT_EQ(choice.key_source, "sec-websocket-key");
    ASSERT_EQ(choice.candidates.size(), 3u);
    std::set<std::uint32_t> ids;
    for (const auto& c : choice.candidates) ids.insert(c.id);
    EXPECT_EQ(ids.size(), 3u);
    EXPECT_EQ(s->choose(with_key("k" + std::to_string(i)), {}, 3).candidates[1].id, choice.candidates[1].id);
    first_choices.insert(choice.candidates[0].name);
  }
  EXPECT_EQ(first_choices.size(), 5u);  // 200 connections of one client spread over every pod
  EXPECT_EQ(s->choose(with_key("k"), {}, 10).candidates.size(), 5u);
  EXPECT_EQ(s->choose(with_key("k"), {}, 0).candidates.size(), 1u);
  EXPECT_EQ(s->choose(with_key("k"), {}, 1).reason.rfind("slot ", 0), 0u);
}

TEST_F(SteeringTest, CandidateCarriesTheEndpointAddress) {
  auto s = make();
  s->update_endpoints({pod(7)});
  const auto c = s->choose(with_key("k"), {}, 1).candidates.at(0);
  EXPECT_EQ(c.name, "pod-7");
  EXPECT_EQ(c.address.to_string(), "10.0.0.8");
  EXPECT_EQ(c.port, 8080);
}

TEST_F(SteeringTest, OneRoomMeetsOnOnePodOnEveryAgent) {
  SteeringConfig config;
  config.hash_key = {"query:room", "sec-websocket-key"};
  auto agent_a = make(config);
  auto agent_b = make(config);
  auto list = pods(20);
  agent_a->update_endpoints(list);
  std::reverse(list.begin(), list.end());
  agent_b->update_endpoints({pod(99)});  // a different history, so different ids
  agent_b->update_endpoints(list);
  for (int room = 0; room < 50; ++room) {
    const auto target = "/ws?room=" + std::to_string(room);
    const auto first = agent_a->choose(with_key("a", target), {}, 2);
    EXPECT_EQ(first.key_source, "query:room");
    for (const auto* agent : {agent_a.get(), agent_b.get()}) {
      const auto other = agent->choose(with_key("client-" + std::to_string(room), target), {}, 2);
      EXPECT_EQ(other.candidates[0].name, first.candidates[0].name);
      EXPECT_EQ(other.candidates[1].name, first.candidates[1].name);
    }
  }
}

TEST_F(SteeringTest, DrainingBackendsGetNoNewConnections) {
  auto s = make();
  auto list = pods(4);
  list[2].draining = true;
  s->update_endpoints(list);
  EXPECT_EQ(by_name(*s).at("pod-2").state, BackendState::draining);
  EXPECT_EQ(by_name(*s).at("pod-2").maglev_share, 0);
  for (int i = 0; i < 300; ++i)
    for (const auto& c : s->choose(with_key("k" + std::to_string(i)), {}, 4).candidates) EXPECT_NE(c.name, "pod-2");

  const auto r = key_landing_on(*s, "pod-1");
  EXPECT_TRUE(s->set_draining("pod-1", true));
  const auto choice = s->choose(r, {}, 4);
  EXPECT_EQ(choice.candidates.size(), 2u);
  EXPECT_NE(choice.candidates[0].name, "pod-1");
  EXPECT_NE(choice.reason.find("pod-1 (draining)"), std::string::npos) << choice.reason;
  EXPECT_EQ(by_name(*s).at("pod-1").state, BackendState::draining);
  EXPECT_TRUE(s->set_draining("pod-1", false));
  EXPECT_EQ(s->choose(r, {}, 1).candidates[0].name, "pod-1");
  EXPECT_FALSE(s->set_draining("nobody", true));
}

TEST_F(SteeringTest, WeightZeroIsLikeDraining) {
  auto s = make();
  s->update_endpoints({pod(0, 0), pod(1)});
  for (int i = 0; i < 50; ++i) EXPECT_EQ(s->choose(with_key("k" + std::to_string(i)), {}, 2).candidates.size(), 1u);
}

TEST_F(SteeringTest, CircuitBreakerTripsAfterConsecutiveFailuresAndRetriesAfterCoolDown) {
  auto s = make();
  s->update_endpoints(pods(3));
  const auto r = key_landing_on(*s, "pod-0");
  const auto id = id_of(*s, "pod-0");

  s->on_connect_failed(id);
  s->on_connect_failed(id);
  EXPECT_EQ(s->choose(r, {}, 1).candidates[0].name, "pod-0");  // two failures: still sticky
  s->on_connected(id);                                          // a success resets the count
  s->on_connect_failed(id);
  s->on_connect_failed(id);
  EXPECT_EQ(s->choose(r, {}, 1).candidates[0].name, "pod-0");
  s->on_connect_failed(id);
  const auto choice = s->choose(r, {}, 3);
  EXPECT_NE(choice.candidates[0].name, "pod-0");
  EXPECT_EQ(choice.candidates.size(), 2u);
  EXPECT_NE(choice.reason.find("pod-0 (unhealthy)"), std::string::npos) << choice.reason;
  EXPECT_EQ(by_name(*s).at("pod-0").state, BackendState::unhealthy);
  EXPECT_EQ(by_name(*s).at("pod-0").connect_failures, 5u);

  now_ += 9s;
  EXPECT_NE(s->choose(r, {}, 1).candidates[0].name, "pod-0");
  now_ += 1s;
  EXPECT_EQ(s->choose(r, {}, 1).candidates[0].name, "pod-0");  // cool-down over: tried again
  s->on_connect_failed(id);                                     // and one more failure trips it at once
  EXPECT_NE(s->choose(r, {}, 1).candidates[0].name, "pod-0");
}

TEST_F(SteeringTest, ProbeVerdictsTakeBackendsOutAndBackIn) {
  auto s = make();
  s->update_endpoints(pods(3));
  const auto r = key_landing_on(*s, "pod-1");
  const auto id = id_of(*s, "pod-1");
  s->set_healthy(id, false);
  EXPECT_NE(s->choose(r, {}, 1).candidates[0].name, "pod-1");
  now_ += 1h;  // a probe verdict does not time out
  EXPECT_NE(s->choose(r, {}, 1).candidates[0].name, "pod-1");
  s->set_healthy(id, true);
  EXPECT_EQ(s->choose(r, {}, 1).candidates[0].name, "pod-1");

  for (int i = 0; i < 3; ++i) s->on_connect_failed(id);
  s->set_healthy(id, true);  // a successful probe also closes the breaker
  EXPECT_EQ(s->choose(r, {}, 1).candidates[0].name, "pod-1");
  s->set_healthy(5000, false);  // unknown ids are ignored
}

TEST_F(SteeringTest, WhenEveryBackendIsUnhealthyTheyAreTriedAnyway) {
  auto s = make();
  s->update_endpoints(pods(3));
  for (const auto& b : s->snapshot()) s->set_healthy(b.backend.id, false);
  const auto choice = s->choose(with_key("k"), {}, 2);
  EXPECT_EQ(choice.result, Choice::Result::ok);
  EXPECT_EQ(choice.candidates.size(), 2u);
  EXPECT_NE(choice.reason.find("trying anyway"), std::string::npos);
}

TEST_F(SteeringTest, FullBackendsAreSkippedAndAllFullIsReported) {
  auto s = make();
  s->update_endpoints({pod(0, 1, false, 2), pod(1, 1, false, 1)});
  const auto r = key_landing_on(*s, "pod-1");
  s->on_connected(id_of(*s, "pod-1"));
  const auto choice = s->choose(r, {}, 2);
  ASSERT_EQ(choice.candidates.size(), 1u);
  EXPECT_EQ(choice.candidates[0].name, "pod-0");
  EXPECT_NE(choice.reason.find("pod-1 (full)"), std::string::npos);

  s->on_connected(id_of(*s, "pod-0"));
  s->on_connected(id_of(*s, "pod-0"));
  const auto full = s->choose(r, {}, 2);
  EXPECT_EQ(full.result, Choice::Result::all_full);
  EXPECT_TRUE(full.candidates.empty());

  s->on_closed(id_of(*s, "pod-0"));
  EXPECT_EQ(s->choose(r, {}, 2).result, Choice::Result::ok);
}

TEST_F(SteeringTest, NoBackendsWhenNothingIsListedOrEverythingDrains) {
  auto s = make();
  EXPECT_EQ(s->choose(with_key("k"), {}, 1).result, Choice::Result::no_backends);
  s->update_endpoints({pod(0, 1, true)});
  EXPECT_EQ(s->choose(with_key("k"), {}, 1).result, Choice::Result::no_backends);
  s->update_endpoints({pod(0)});
  s->set_draining("pod-0", true);
  EXPECT_EQ(s->choose(with_key("k"), {}, 1).result, Choice::Result::no_backends);
}

TEST_F(SteeringTest, AConnectFailureMovesOnlyThatConnection) {
  auto s = make();
  s->update_endpoints(pods(3));
  const auto r = key_landing_on(*s, "pod-2");
  const auto choice = s->choose(r, {}, 3);
  s->on_connect_failed(choice.candidates[0].id);  // the proxy moves on to candidates[1]
  EXPECT_EQ(s->choose(r, {}, 3).candidates[0].name, "pod-2");  // everyone else still lands on pod-2
}

// The bounded-load cap, computed here independently of the implementation.
std::uint64_t cap(const std::vector<BackendStatus>& before, const std::string& name, double factor) {
  std::uint64_t active = 0, weight = 0, own_weight = 0;
  for (const auto& b : before) {
    active += b.active_connections;
    weight += b.weight;
    if (b.backend.name == name) own_weight = b.weight;
  }
  return static_cast<std::uint64_t>(std::ceil(factor * static_cast<double>(active + 1) * own_weight / weight));
}

TEST_F(SteeringTest, BoundedLoadCapIsNeverExceeded) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 20; ++round) {
    SteeringConfig config;
    config.hash_key = {"query:room"};
    config.balance_factor = std::uniform_real_distribution<double>(1.0, 2.0)(rng);
    auto s = make(config);
    EndpointList list;
    const int n = std::uniform_int_distribution<int>(1, 30)(rng);
    for (int i = 0; i < n; ++i) list.push_back(pod(i, std::uniform_int_distribution<std::uint32_t>(1, 3)(rng)));
    s->update_endpoints(list);

    std::vector<std::uint32_t> open;  // backend id per open connection
    for (int step = 0; step < 2000; ++step) {
      if (!open.empty() && std::uniform_int_distribution<int>(0, 2)(rng) == 0) {
        const auto victim = std::uniform_int_distribution<std::size_t>(0, open.size() - 1)(rng);
        s->on_closed(open[victim]);
        open.erase(open.begin() + static_cast<std::ptrdiff_t>(victim));
        continue;
      }
      // Skewed rooms: most connections want the same few pods.
      const auto room = std::uniform_int_distribution<int>(0, 3)(rng) != 0 ? 0 : step;
      const auto before = s->snapshot();
      const auto choice = s->choose(with_key("k", "/ws?room=" + std::to_string(room)), {}, 1);
      ASSERT_EQ(choice.result, Choice::Result::ok);
      const auto& chosen = choice.candidates[0];
      std::uint64_t chosen_active = 0;
      for (const auto& b : before)
        if (b.backend.id == chosen.id) chosen_active = b.active_connections;
      ASSERT_LE(chosen_active + 1, cap(before, chosen.name, config.balance_factor))
          << "factor " << config.balance_factor << " n " << n << " step " << step;
      s->on_connected(chosen.id);
      open.push_back(chosen.id);
    }
  }
}

TEST_F(SteeringTest, BoundedLoadSendsNewConnectionsToFreshlyScaledPods) {
  // 1000 connections on 4 pods, then the deployment doubles. Plain Maglev sends the new pods only
  // their hash share (half); with the cap at 1.25 x mean the old pods (~250 each) stay over it
  // (1.25 x 1400 / 8 = 219) and the next 400 connections all go to the new pods.
  for (const double factor : {0.0, 1.25}) {
    SteeringConfig config;
    config.balance_factor = factor;
    auto s = make(config);
    s->update_endpoints(pods(4));
    for (int i = 0; i < 1000; ++i) s->on_connected(s->choose(with_key("k" + std::to_string(i)), {}, 1).candidates[0].id);
    s->update_endpoints(pods(8));
    int to_new_pods = 0;
    for (int i = 0; i < 400; ++i) {
      const auto c = s->choose(with_key("n" + std::to_string(i)), {}, 1).candidates[0];
      s->on_connected(c.id);
      to_new_pods += c.name >= "pod-4";
    }
    if (factor == 0) {
      EXPECT_NEAR(to_new_pods, 200, 40);
    } else {
      EXPECT_EQ(to_new_pods, 400);
    }
  }
}

TEST_F(SteeringTest, IdsAreStableAndARemovedBackendDrainsUntilItsLastConnection) {
  auto s = make();
  s->update_endpoints(pods(3));
  const auto ids = by_name(*s);
  EXPECT_LT(ids.at("pod-2").backend.id, 3u);
  s->update_endpoints({pod(2), pod(1), pod(0), pod(3)});
  for (int i = 0; i < 3; ++i) {
    const auto name = "pod-" + std::to_string(i);
    EXPECT_EQ(id_of(*s, name), ids.at(name).backend.id);
  }

  const auto pod1 = id_of(*s, "pod-1");
  s->on_connected(pod1);
  s->on_connected(pod1);
  s->update_endpoints({pod(0), pod(2), pod(3)});  // pod-1 leaves with two connections
  auto status = by_name(*s);
  ASSERT_TRUE(status.contains("pod-1"));
  EXPECT_FALSE(status.at("pod-1").listed);
  EXPECT_EQ(status.at("pod-1").state, BackendState::draining);
  EXPECT_EQ(status.at("pod-1").backend.id, pod1);
  EXPECT_EQ(status.at("pod-1").active_connections, 2u);
  for (const auto id : *s->maglev_table()) EXPECT_NE(id, pod1);

  s->update_endpoints({pod(0), pod(2), pod(3), pod(4)});  // a newcomer cannot take pod-1's id
  EXPECT_NE(id_of(*s, "pod-4"), pod1);
  s->on_closed(pod1);
  EXPECT_TRUE(by_name(*s).contains("pod-1"));
  s->on_closed(pod1);
  EXPECT_FALSE(by_name(*s).contains("pod-1"));  // last connection gone: id freed
}

TEST_F(SteeringTest, FreedIdsAreReusedLastSoAnInFlightConnectKeepsItsBackend) {
  SteeringConfig small_table;
  small_table.maglev_size = 101;
  auto s = make(small_table);
  s->update_endpoints(pods(2));
  const auto old_id = id_of(*s, "pod-1");
  s->update_endpoints({pod(0), pod(2)});  // rolling update: pod-1 replaced by pod-2
  EXPECT_NE(id_of(*s, "pod-2"), old_id);
  std::set<std::uint32_t> ids;
  for (int i = 3; i < 1026; ++i) {  // 1023 more newcomers, one at a time: ids cycle through all 1024
    s->update_endpoints({pod(0), pod(i)});
    ids.insert(id_of(*s, "pod-" + std::to_string(i)));
  }
  EXPECT_TRUE(ids.contains(old_id));
  for (const auto id : ids) EXPECT_LT(id, kMaxBackends);
}

TEST_F(SteeringTest, ARemovedBackendThatReturnsWhileDrainingKeepsItsId) {
  auto s = make();
  s->update_endpoints(pods(2));
  const auto id = id_of(*s, "pod-1");
  s->on_connected(id);
  s->update_endpoints({pod(0)});
  s->update_endpoints(pods(2));
  EXPECT_EQ(id_of(*s, "pod-1"), id);
  EXPECT_TRUE(by_name(*s).at("pod-1").listed);
  EXPECT_EQ(by_name(*s).at("pod-1").active_connections, 1u);
}

TEST_F(SteeringTest, UnmatchedClosesDoNotWrapCounters) {
  auto s = make();
  s->update_endpoints(pods(1));
  s->on_closed(0);
  s->on_closed(4096);
  s->on_connected(4096);
  s->on_connect_failed(4096);
  EXPECT_EQ(by_name(*s).at("pod-0").active_connections, 0u);
}

TEST_F(SteeringTest, SnapshotReportsWeightsSharesAndCounters) {
  auto s = make();
  s->update_endpoints({pod(0, 1), pod(1, 3, false, 10)});
  const auto id = id_of(*s, "pod-1");
  s->on_connected(id);
  s->on_connected(id);
  s->on_closed(id);
  s->on_connect_failed(id);
  const auto status = by_name(*s);
  EXPECT_NEAR(status.at("pod-0").maglev_share, 0.25, 0.0025);
  EXPECT_NEAR(status.at("pod-1").maglev_share, 0.75, 0.0075);
  EXPECT_EQ(status.at("pod-1").weight, 3u);
  EXPECT_EQ(status.at("pod-1").max_connections, 10u);
  EXPECT_EQ(status.at("pod-1").active_connections, 1u);
  EXPECT_EQ(status.at("pod-1").total_connections, 2u);
  EXPECT_EQ(status.at("pod-1").connect_failures, 1u);
  EXPECT_EQ(status.at("pod-1").state, BackendState::active);
}

TEST_F(SteeringTest, EndpointNamesDefaultAndDuplicatesKeepTheFirst) {
  auto s = make();
  Endpoint unnamed{"", boost::asio::ip::make_address("2001:db8::1"), 443};
  auto first = pod(0);
  auto duplicate = pod(0);
  duplicate.port = 9999;
  s->update_endpoints({unnamed, first, duplicate});
  const auto status = by_name(*s);
  EXPECT_TRUE(status.contains("[2001:db8::1]:443"));
  EXPECT_EQ(status.at("pod-0").backend.port, 8080);
  EXPECT_EQ(status.size(), 2u);
}

TEST_F(SteeringTest, UpdatesBumpTheVersionAndSwapTheTableWithoutTouchingOldReaders) {
  SteeringConfig config;
  config.maglev_size = 1009;
  auto s = make(config);
  EXPECT_EQ(s->endpoints_version(), 0u);
  EXPECT_TRUE(s->maglev_table()->empty());
  s->update_endpoints(pods(2));
  const auto old_table = s->maglev_table();
  s->update_endpoints(pods(3));
  EXPECT_EQ(s->endpoints_version(), 2u);
  EXPECT_EQ(old_table->size(), 1009u);
  EXPECT_EQ(std::set<std::uint32_t>(old_table->begin(), old_table->end()).size(), 2u);
  EXPECT_EQ(std::set<std::uint32_t>(s->maglev_table()->begin(), s->maglev_table()->end()).size(), 3u);
}

TEST_F(SteeringTest, ChooseRunsWhileEndpointsChange) {
  auto s = make();
  s->update_endpoints(pods(10));
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> chosen{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 2; ++t)
    workers.emplace_back([&, t] {
      for (int i = 0; !stop; ++i) {
        const auto choice = s->choose(with_key(std::to_string(t) + "-" + std::to_string(i)), {}, 3);
        if (choice.result != Choice::Result::ok) continue;
        s->on_connected(choice.candidates[0].id);
        s->on_closed(choice.candidates[0].id);
        ++chosen;
      }
    });
  for (int v = 0; v < 50; ++v) s->update_endpoints(pods(5 + v % 10));
  stop = true;
  for (auto& w : workers) w.join();
  EXPECT_GT(chosen.load(), 0u);
  for (const auto& b : s->snapshot()) EXPECT_EQ(b.active_connections, 0u);
}

TEST(SteeringConfigValidation, MakeSteeringRejectsBadConfigs) {
  const auto rejects = [](auto mutate) {
    SteeringConfig c;
    mutate(c);
    try {
      make_steering(c);
    } catch (const std::invalid_argument&) {
      return true;
    }
    return false;
  };
  EXPECT_FALSE(rejects([](SteeringConfig&) {}));
  EXPECT_TRUE(rejects([](SteeringConfig& c) { c.maglev_size = 65536; }));
  EXPECT_TRUE(rejects([](SteeringConfig& c) { c.maglev_size = 2000003; }));  // prime, above the BPF map
  EXPECT_TRUE(rejects([](SteeringConfig& c) { c.hash_key = {"room"}; }));
  EXPECT_TRUE(rejects([](SteeringConfig& c) { c.hash_key = {}; }));
  EXPECT_TRUE(rejects([](SteeringConfig& c) { c.balance_factor = 0.5; }));
  EXPECT_TRUE(rejects([](SteeringConfig& c) { c.balance_factor = -1; }));
  EXPECT_TRUE(rejects([](SteeringConfig& c) { c.balance_factor = NAN; }));
  EXPECT_FALSE(rejects([](SteeringConfig& c) { c.balance_factor = 1.25; }));
  EXPECT_TRUE(rejects([](SteeringConfig& c) { c.cookie.name = "wsteer"; }));  // no secret
  try {
    SteeringConfig c;
    c.maglev_size = 1000;
    make_steering(c);
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("maglev-size 1000 must be a prime"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace wsteer::steering
