// The connection-based scaler end to end: three wsteer-agent processes stand for three nodes,
// each balancing Kubernetes Service demo/chat to echo servers and serving its connection counts
// at /v1/connections. They elect one leader per workload with a Lease on the test API server,
// which also serves the Deployment's scale subresource with resourceVersion conflicts; the
// leader sums every agent's report and patches spec.replicas. Real WebSocket clients open and
// close connections through all three agents; the test plays the EndpointSlice controller for
// the agents' metrics Service (wsteer/wsteer-metrics) and the chat pods. The agents' token may do
// exactly what the Helm chart's ClusterRole and scaling Roles allow.
#include "harness/agent_under_test.h"
#include "harness/command.h"
#include "harness/fake_apiserver.h"
#include "harness/netns.h"
#include "harness/privileges.h"
#include "harness/test_cluster.h"
#include "harness/ws_client.h"

#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <thread>

namespace wsteer::test {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
namespace websocket = boost::beast::websocket;
using namespace std::chrono_literals;
using asio::awaitable;
using asio::use_awaitable;

constexpr const char* kService = "demo/chat";
constexpr int kAgents = 3;

std::string agent_name(int i) { return "agent-" + std::to_string(i); }
std::string agent_address(int i) { return "10.77.1." + std::to_string(11 + i); }

// An EndpointSlice as the EndpointSlice controller writes it: one ready endpoint per (name, ip).
json::object slice(const std::string& ns, const std::string& service, const std::string& name,
                   const std::vector<std::pair<std::string, std::string>>& pods, const std::string& port_name, int port) {
  json::array endpoints;
  for (const auto& [pod, ip] : pods)
    endpoints.push_back(json::object{{"addresses", json::array{json::value(ip)}},
                                     {"conditions", json::object{{"ready", true}, {"serving", true}, {"terminating", false}}},
                                     {"targetRef", json::object{{"kind", "Pod"}, {"namespace", ns}, {"name", pod}}}});
  return json::object{{"apiVersion", "discovery.k8s.io/v1"},
                      {"kind", "EndpointSlice"},
                      {"metadata", json::object{{"name", name},
                                                {"namespace", ns},
                                                {"labels", json::object{{"kubernetes.io/service-name", service}}}}},
                      {"addressType", "IPv4"},
                      {"endpoints", std::move(endpoints)},
                      {"ports", json::array{json::object{{"name", port_name}, {"port", port}, {"protocol", "TCP"}}}}};
}

// Polls `done` every 100 ms until it holds or `limit` passes; returns whether it held.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return done();
}

class ScalerE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    WSTEER_REQUIRE_PRIVILEGED();
    topology_ = std::make_unique<Topology>(2);
    backends_ = std::make_unique<Backends>(*topology_, dir_);
    for (int i = 0; i < kAgents; ++i)  // the agents' node addresses, on the clients' side
      run("ip -n " + topology_->agent_ns() + " addr add " + agent_address(i) + "/24 dev vc");
    api_ = make_fake_cluster(topology_->agent_ns());
    grant_chart_roles(*api_->fake(), api_->agent_token(), kScalingValues, dir_.path());
    api_->put_endpoint_slice(slice("demo", "chat", "chat-a",
                                   {{"chat-0", topology_->backend_address(0)}, {"chat-1", topology_->backend_address(1)}},
                                   "ws", 9000));
    api_->fake()->apply("apps/v1", "deployments",
                        json::object{{"metadata", json::object{{"name", "chat"}, {"namespace", "demo"}}},
                                     {"spec", json::object{{"replicas", 1}}}});
    const auto token = dir_.path() / "token";
    std::ofstream(token) << api_->agent_token() << "\n";
    kubeconfig_ = write_kubeconfig(dir_.path(), *api_, token);
  }

  void TearDown() override {
    for (auto& a : agents_)
      if (a && HasFailure()) std::cerr << "---- " << a->host() << " log ----\n" << a->process().log();
    conns_.clear();
    agents_.clear();
    api_.reset();
    backends_.reset();
    topology_.reset();
  }

  // The chart's values for this scaling setup (the test grants the Roles they render).
  static constexpr const char* kScalingValues = R"(
services:
  - namespace: demo
    name: chat
    port: ws
    listenPort: 8080
    scaling:
      enabled: true
      target: {kind: Deployment, name: chat}
      targetConnectionsPerPod: 10
      maxReplicas: 8
)";

  void start_agent(int i, const std::string& mode = "patch") {
    const auto config = dir_.path() / ("agent-" + std::to_string(i) + ".yaml");
    std::ofstream(config) << "kubeconfig: " << kubeconfig_.string() << "\n"
                          << "pod-name: " << agent_name(i) << "\n"
                          << "pod-namespace: wsteer\n"
                          << "peers-service: wsteer/wsteer-metrics\n"
                          << "scaler-sync-period: 1s\n"
                          << "scaler-lease-duration: 4s\n"
                          << "scaler-renew-deadline: 3s\n"
                          << "scaler-retry-period: 1s\n"
                          << "services:\n"
                          << "  - service: " << kService << "\n"
                          << "    port: ws\n"
                          << "    listen: " << agent_address(i) << ":" << AgentUnderTest::kPort << "\n"
                          << "    scaling:\n"
                          << "      mode: " << mode << "\n"
                          << "      target: {kind: Deployment, name: chat}\n"
                          << "      target-connections-per-pod: 10\n"
                          << "      max-replicas: 8\n"
                          << "      scale-down-window: 6s\n"
                          << "      report-stale-after: 3s\n"
                          << "      tolerance: 0\n";
    if (agents_.size() <= static_cast<std::size_t>(i)) agents_.resize(i + 1);
    agents_[i] = std::make_unique<AgentUnderTest>(*topology_, dir_, AgentUnderTest::kServicesFromArgs, "splice",
                                                  std::vector<std::string>{"--config", config.string()}, agent_address(i));
  }

  // The agents' metrics Service as the EndpointSlice controller lists it.
  void list_agents(const std::vector<int>& which) {
    std::vector<std::pair<std::string, std::string>> pods;
    for (int i : which) pods.emplace_back(agent_name(i), agent_address(i));
    api_->put_endpoint_slice(slice("wsteer", "wsteer-metrics", "wsteer-metrics-x", pods, "metrics", AgentUnderTest::kMetricsPort));
  }

  void start_all(const std::string& mode = "patch") {
    list_agents({0, 1, 2});
    for (int i = 0; i < kAgents; ++i) start_agent(i, mode);
  }

  int replicas() const {
    const auto d = api_->fake()->get("apps/v1", "deployments", "demo", "chat");
    return static_cast<int>(d->at("spec").at("replicas").to_number<std::int64_t>());
  }

  double metric(int agent, const std::string& family, const std::string& labels = "") const {
    const auto m = agents_.at(agent)->metrics();
    double sum = 0;
    for (const auto& [key, value] : m)
      if ((key == family || key.rfind(family + "{", 0) == 0) && key.find(labels) != std::string::npos) sum += value;
    return sum;
  }

  // The one agent (of those given) that says it leads; -1 unless exactly one does.
  int leader(const std::vector<int>& among = {0, 1, 2}) const {
    int found = -1, count = 0;
    for (int i : among)
      if (metric(i, "wsteer_scaler_leader", "service=\"demo/chat\"") == 1) found = i, ++count;
    return count == 1 ? found : -1;
  }

  HttpReply get(int agent, const std::string& target) const {
    return http_exchange(topology_->agent_ns(), agent_address(agent), AgentUnderTest::kMetricsPort,
                         "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
  }

  // Opens n WebSocket connections through agent `via`, kept until close().
  void open(int via, int n) {
    run_in_netns(client_io_, topology_->client_ns(), 60s, [&]() -> awaitable<void> {
      for (int k = 0; k < n; ++k) {
        auto c = co_await connect_ws(agent_address(via), AgentUnderTest::kPort, "/");
        conns_[via].push_back(std::move(c));
      }
    });
  }
  void close(int via, int n) {
    run_in_netns(client_io_, topology_->client_ns(), 60s, [&]() -> awaitable<void> {
      for (int k = 0; k < n && !conns_[via].empty(); ++k) {
        co_await conns_[via].back().ws->async_close(websocket::close_code::normal, use_awaitable);
        conns_[via].pop_back();
      }
    });
  }

  asio::io_context client_io_;
  TempDir dir_;
  std::filesystem::path kubeconfig_;
  std::unique_ptr<Topology> topology_;
  std::unique_ptr<Backends> backends_;
  std::unique_ptr<TestCluster> api_;
  std::vector<std::unique_ptr<AgentUnderTest>> agents_;
  std::map<int, std::vector<Connected>> conns_;
};

TEST_F(ScalerE2E, ReplicasFollowTheConnectionsOfEveryAgentWithinTheWindows) {
  start_all();
  ASSERT_TRUE(wait_until([&] { return leader() >= 0; }, 15s)) << "no single leader";
  EXPECT_EQ(replicas(), 1);

  // Every agent reports its own connections.
  open(0, 25);
  open(1, 20);
  const auto report = json::parse(get(1, "/v1/connections").body).as_object();
  EXPECT_EQ(report.at("agent").as_string(), agent_name(1));
  std::int64_t on_agent1 = 0;
  for (const auto& s : report.at("services").as_array())
    for (const auto& b : s.at("backends").as_array()) on_agent1 += b.at("active").to_number<std::int64_t>();
  EXPECT_EQ(on_agent1, 20);

  // 45 connections at 10 per pod: 5 replicas, at once (within the step of +4).
  const auto up_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_until([&] { return replicas() == 5; }, 10s)) << "replicas stayed at " << replicas();
  std::cout << "scale-up 1 -> 5 took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - up_at).count()
            << " ms\n";
  const int l = leader();
  ASSERT_GE(l, 0);
  EXPECT_EQ(metric(l, "wsteer_scaler_connections"), 45);
  EXPECT_EQ(metric(l, "wsteer_scaler_desired_replicas"), 5);
  EXPECT_GE(metric(l, "wsteer_scaler_scale_patches_total", "result=\"ok\""), 1);

  // KEDA's metrics-api URL answers the same on every agent (followers relay the leader).
  for (int i = 0; i < kAgents; ++i) {
    ASSERT_TRUE(wait_until(
        [&] {
          const auto r = get(i, "/v1/scaling?service=demo%2Fchat");
          return r.status == 200 && json::parse(r.body).at("connections").to_number<std::int64_t>() == 45;
        },
        5s))
        << "agent " << i << ": " << get(i, "/v1/scaling?service=demo%2Fchat").body;
  }

  // Load drops to 15: 2 replicas, but only after the 6 s scale-down window.
  close(0, 25);
  close(1, 5);
  const auto down_at = std::chrono::steady_clock::now();
  EXPECT_FALSE(wait_until([&] { return replicas() != 5; }, 4s)) << "scaled down inside the window";
  ASSERT_TRUE(wait_until([&] { return replicas() == 2; }, 10s)) << "replicas stayed at " << replicas();
  const auto took = std::chrono::steady_clock::now() - down_at;
  std::cout << "scale-down 5 -> 2 took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
  EXPECT_GE(took, 5s);
}

TEST_F(ScalerE2E, AnotherAgentTakesTheLeaseWhenTheLeaderDiesAndGoesOn) {
  start_all();
  ASSERT_TRUE(wait_until([&] { return leader() >= 0; }, 15s));
  const int old_leader = leader();
  std::vector<int> others;
  for (int i = 0; i < kAgents; ++i)
    if (i != old_leader) others.push_back(i);
  open(others[0], 15);
  open(others[1], 15);
  ASSERT_TRUE(wait_until([&] { return replicas() == 3; }, 10s)) << replicas();
  const auto lease_before = api_->fake()->get("coordination.k8s.io/v1", "leases", "wsteer", "wsteer-scaler.deployment.demo.chat");
  ASSERT_TRUE(lease_before);
  EXPECT_EQ(lease_before->at("spec").at("holderIdentity").as_string(), agent_name(old_leader));

  // The leader's node dies: no release, its pod leaves the metrics Service.
  agents_[old_leader]->process().signal(SIGKILL);
  agents_[old_leader]->process().wait_exit(5s);
  list_agents(others);
  const auto killed_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_until([&] { return leader(others) >= 0; }, 15s)) << "nobody took over";
  std::cout << "takeover after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killed_at).count()
            << " ms (lease duration 4 s)\n";
  const auto lease = api_->fake()->get("coordination.k8s.io/v1", "leases", "wsteer", "wsteer-scaler.deployment.demo.chat");
  EXPECT_EQ(lease->at("spec").at("holderIdentity").as_string(), agent_name(leader(others)));
  EXPECT_GT(lease->at("spec").at("leaseTransitions").to_number<std::int64_t>(),
            lease_before->at("spec").at("leaseTransitions").to_number<std::int64_t>());

  // The new leader goes on: 50 connections -> 5 replicas.
  open(others[0], 20);
  ASSERT_TRUE(wait_until([&] { return replicas() == 5; }, 10s)) << replicas();
}

TEST_F(ScalerE2E, AStaleAgentHoldsScaleDownUntilItReportsAgain) {
  start_all();
  ASSERT_TRUE(wait_until([&] { return leader() >= 0; }, 15s));
  const int l = leader();
  const int stale = (l + 1) % kAgents, other = (l + 2) % kAgents;
  open(stale, 30);
  open(other, 20);
  ASSERT_TRUE(wait_until([&] { return replicas() == 5; }, 10s)) << replicas();

  // The agent hangs (its flows stay open); the load on the other drops.
  agents_[stale]->process().signal(SIGSTOP);
  close(other, 20);
  ASSERT_TRUE(wait_until([&] { return metric(l, "wsteer_scaler_holding_agents", "agent=\"" + agent_name(stale) + "\"") == 1; },
                         10s))
      << "the leader does not name the stale agent";
  EXPECT_EQ(metric(l, "wsteer_scaler_last_decision", "reason=\"stale_agent\""), 1);
  EXPECT_FALSE(wait_until([&] { return replicas() != 5; }, 8s)) << "scaled while an agent's count was stale";
  EXPECT_NE(agents_[l]->process().log().find("stale report from " + agent_name(stale)), std::string::npos);

  // It comes back: 30 connections -> 3 replicas after the window.
  agents_[stale]->process().signal(SIGCONT);
  ASSERT_TRUE(wait_until([&] { return replicas() == 3; }, 15s)) << replicas();
}

TEST_F(ScalerE2E, KedaModeServesTheSumAndNeverPatches) {
  start_all("keda");
  ASSERT_TRUE(wait_until([&] { return leader() >= 0; }, 15s));
  open(0, 7);
  open(2, 5);
  for (int i = 0; i < kAgents; ++i)
    ASSERT_TRUE(wait_until(
        [&] {
          const auto r = get(i, "/v1/scaling?service=demo/chat");
          return r.status == 200 && json::parse(r.body).at("connections").to_number<std::int64_t>() == 12;
        },
        6s))
        << get(i, "/v1/scaling?service=demo/chat").body;
  EXPECT_EQ(replicas(), 1);
  for (const auto& r : api_->fake()->requests()) EXPECT_EQ(r.find("PATCH"), std::string::npos) << r;
  // A Service this agent does not scale, and a missing parameter, are answered clearly.
  EXPECT_EQ(get(0, "/v1/scaling?service=demo/other").status, 404);
  EXPECT_EQ(get(0, "/v1/scaling").status, 400);
}

TEST_F(ScalerE2E, EveryScalerFamilyIsExportedWithHelpAndType) {
  start_all();
  ASSERT_TRUE(wait_until([&] { return leader() >= 0; }, 15s));
  const auto text = get(0, "/metrics").body;
  for (const char* family : {"wsteer_scaler_leader", "wsteer_scaler_connections", "wsteer_scaler_agents",
                             "wsteer_scaler_current_replicas", "wsteer_scaler_desired_replicas",
                             "wsteer_scaler_decisions_total", "wsteer_scaler_last_decision",
                             "wsteer_scaler_holding_agents", "wsteer_scaler_scale_patches_total",
                             "wsteer_scaler_lease_rounds_total"}) {
    EXPECT_NE(text.find(std::string("# HELP ") + family + " "), std::string::npos) << family;
    EXPECT_NE(text.find(std::string("# TYPE ") + family + " "), std::string::npos) << family;
  }
  bool zero_reason = false;
  for (const auto& [key, value] : agents_[0]->metrics())
    zero_reason |= key.rfind("wsteer_scaler_decisions_total{", 0) == 0 &&
                   key.find("reason=\"scaled_to_zero\"") != std::string::npos && value == 0;
  EXPECT_TRUE(zero_reason) << "every reason is exported from the first scrape";
}

}  // namespace
}  // namespace wsteer::test
