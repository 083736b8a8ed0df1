// Real socket.io (npm socket.io and socket.io-client, tests/node-socketio/) through the agent:
// three socket.io servers, one per backend namespace, and hundreds of clients from the one client
// namespace (one IP). Long-polling sessions live in one server's memory, so every polling request
// of a session and its upgrade must reach that server; the agent's sticky cookie, set on the
// first polling response, is what makes them (docs/http.md). Node modules come from
// .tools/node-socketio (scripts/install-deps.sh, group test).
#include "harness/agent_under_test.h"
#include "harness/netns.h"
#include "harness/privileges.h"
#include "harness/process.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

namespace wsteer::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

const std::filesystem::path kScripts = std::filesystem::path(WSTEER_SOURCE_DIR) / "tests/node-socketio";
const std::filesystem::path kModules = std::filesystem::path(WSTEER_SOURCE_DIR) / ".tools/node-socketio/node_modules";
constexpr unsigned short kServerPort = 9100;

// The JSON line of `log` whose "phase" is `phase` (empty object if none).
json::object phase_line(const std::string& log, const std::string& phase) {
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    if (!ec && v.is_object() && v.as_object().contains("phase") && v.as_object().at("phase") == phase.c_str())
      return v.as_object();
  }
  return {};
}

std::int64_t count(const json::object& o, const char* group, const std::string& key) {
  const auto* g = o.if_contains(group);
  if (!g || !g->is_object()) return 0;
  const auto* v = g->as_object().if_contains(key);
  return v ? v->to_number<std::int64_t>() : 0;
}

// Largest per-backend count over the mean, across `names`.
double imbalance(const json::object& o, const std::vector<std::string>& names) {
  double total = 0, most = 0;
  for (const auto& n : names) {
    total += static_cast<double>(count(o, "backends", n));
    most = std::max(most, static_cast<double>(count(o, "backends", n)));
  }
  return total > 0 ? most / (total / static_cast<double>(names.size())) : 0;
}

class SocketIoE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    WSTEER_REQUIRE_PRIVILEGED();
    if (!std::filesystem::exists(kModules / "socket.io") || !std::filesystem::exists(kModules / "socket.io-client")) {
      const char* required = std::getenv("WSTEER_REQUIRE_PRIVILEGED");
      if (required && std::string(required) == "1") FAIL() << "no " << kModules << ": run scripts/install-deps.sh";
      GTEST_SKIP() << "no " << kModules << ": run scripts/install-deps.sh (group test)";
    }
    ::setenv("NODE_PATH", kModules.c_str(), 1);  // the scripts live outside .tools
    topology_ = std::make_unique<Topology>(3);
    for (int i = 0; i < 3; ++i) start_server(i);
    const auto secret = dir_.path() / "secret";
    std::ofstream(secret) << "0123456789abcdef0123456789abcdef\n";
    agent_ = std::make_unique<AgentUnderTest>(*topology_, dir_, endpoints({0, 1, 2}), "splice",
                                              std::vector<std::string>{"--sticky-cookie", "io-backend",
                                                                       "--cookie-secret-file", secret.string()});
  }
  void TearDown() override {
    if (agent_ && HasFailure()) std::cerr << "---- agent log ----\n" << agent_->process().log();
    agent_.reset();
    servers_.clear();
    topology_.reset();
  }
  void start_server(int i) {
    // Wait for "listening": the agent's first clients must not meet a refused connect.
    auto p = std::make_unique<Process>(topology_->backend_ns(i),
                                       std::vector<std::string>{"/usr/bin/node", (kScripts / "server.js").string(), name(i),
                                                                topology_->backend_address(i), std::to_string(kServerPort)},
                                       (dir_.path() / ("sio" + std::to_string(i) + ".log")).string());
    for (int t = 0; t < 100 && p->log().find("listening") == std::string::npos; ++t) std::this_thread::sleep_for(100ms);
    ASSERT_NE(p->log().find("listening"), std::string::npos) << "socket.io server " << i << ": " << p->log();
    servers_.resize(3);
    servers_[i] = std::move(p);
  }
  static std::string name(int i) { return "s" + std::to_string(i); }
  std::string endpoints(const std::vector<int>& which) const {
    std::string text;
    for (int i : which) text += name(i) + " " + topology_->backend_address(i) + ":" + std::to_string(kServerPort) + "\n";
    return text;
  }
  // Runs client.js in the client namespace with `args`, returns its output once it exited.
  std::unique_ptr<Process> clients(const std::string& log, std::vector<std::string> args) {
    std::vector<std::string> argv{"/usr/bin/node", (kScripts / "client.js").string(), "--url",
                                  "http://" + agent_->host() + ":" + std::to_string(AgentUnderTest::kPort)};
    argv.insert(argv.end(), args.begin(), args.end());
    return std::make_unique<Process>(topology_->client_ns(), argv, (dir_.path() / log).string());
  }
  std::size_t session_unknown_errors() const {
    std::size_t n = 0;
    for (const auto& s : servers_) {
      const auto log = s->log();
      for (auto at = log.find("Session ID unknown"); at != std::string::npos; at = log.find("Session ID unknown", at + 1)) ++n;
    }
    return n;
  }

  TempDir dir_;
  std::unique_ptr<Topology> topology_;
  std::vector<std::unique_ptr<Process>> servers_;
  std::unique_ptr<AgentUnderTest> agent_;
};

TEST_F(SocketIoE2E, PollingThenUpgradeAndWebSocketOnlyConnectSpreadAndStayOnTheirBackend) {
  const std::vector<std::string> names{"s0", "s1", "s2"};
  for (const auto& [transports, ns] : {std::pair{"default", "/"}, std::pair{"websocket", "/chat"}}) {
    auto run = clients(std::string(transports) + ".log",
                       {"--count", "600", "--transports", transports, "--namespace", ns, "--concurrency", "30"});
    ASSERT_EQ(run->wait_exit(120s), 0) << run->log();
    const auto summary = phase_line(run->log(), "connect");
    std::cout << transports << ": " << json::serialize(summary) << "\n";
    EXPECT_EQ(summary.at("echoed").to_number<int>(), 600) << run->log();
    EXPECT_EQ(summary.at("upgraded").to_number<int>(), 600) << "every client ends on WebSocket";
    EXPECT_EQ(summary.at("failed").to_number<int>(), 0) << json::serialize(summary.at("errors"));
    for (const auto& n : names) EXPECT_GT(count(summary, "backends", n), 0) << n;
    EXPECT_LE(imbalance(summary, names), 1.2) << transports << ": " << json::serialize(summary.at("backends"));
  }
  EXPECT_EQ(session_unknown_errors(), 0u) << "a polling request or an upgrade left its session's server";
  const auto m = agent_->metrics();
  EXPECT_EQ(m.at(R"(wsteer_connections_total{reason="none",result="spliced"})"), 1200) << "every upgrade spliced";
  EXPECT_GT(m.at(R"(wsteer_http_requests_total{code_class="2xx",reason="none",result="proxied"})"), 1200)
      << "the polling requests went through the plain-HTTP proxy";
}

TEST_F(SocketIoE2E, ABackendLeavingEndsOnlyItsOwnSessions) {
  const auto hold = dir_.path() / "hold";
  auto run = clients("hold.log", {"--count", "90", "--hold-file", hold.string(), "--settle", "3000"});
  json::object before;
  for (int t = 0; t < 600 && before.empty(); ++t) {
    std::this_thread::sleep_for(100ms);
    before = phase_line(run->log(), "connect");
  }
  ASSERT_FALSE(before.empty()) << run->log();
  ASSERT_EQ(before.at("echoed").to_number<int>(), 90) << json::serialize(before);
  const auto on_s0 = count(before, "backends", "s0");
  ASSERT_GT(on_s0, 0);

  // s0 goes away as a pod does: it leaves the list and its process dies.
  agent_->write_endpoints(endpoints({1, 2}));
  servers_[0]->signal(SIGKILL);
  std::ofstream(hold) << "go\n";
  ASSERT_EQ(run->wait_exit(60s), 0) << run->log();
  const auto after = phase_line(run->log(), "hold");
  ASSERT_FALSE(after.empty()) << run->log();
  EXPECT_EQ(count(after, "disconnected", "s0"), on_s0) << json::serialize(after);
  EXPECT_EQ(count(after, "connected", "s0"), 0);
  for (const char* n : {"s1", "s2"}) {
    EXPECT_EQ(count(after, "disconnected", n), 0) << n << " lost sessions: " << json::serialize(after);
    EXPECT_EQ(count(after, "connected", n), count(before, "backends", n)) << n;
    EXPECT_EQ(count(after, "echoed", n), count(before, "backends", n)) << n;
  }
  EXPECT_EQ(session_unknown_errors(), 0u);
}

}  // namespace
}  // namespace wsteer::test
