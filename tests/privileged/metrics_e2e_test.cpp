// What an operator checks from outside: /metrics parsed strictly after real traffic (spliced or
// proxied flows, rejected requests, a refused backend), /healthz and /readyz through the agent's
// life, and --log-format json producing one valid JSON object per line whatever the message holds.
#include "harness/agent_under_test.h"
#include "harness/netns.h"
#include "harness/privileges.h"
#include "harness/prom_text.h"
#include "harness/ws_client.h"
#include "metrics/metric_names.h"

#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/websocket.hpp>
// Boost.JSON compiled into this test (the harness does not link the library).
#include <boost/json/src.hpp>
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <functional>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

namespace wsteer::test {
namespace {

namespace asio = boost::asio;
namespace websocket = boost::beast::websocket;
using namespace std::chrono_literals;
using asio::awaitable;
using asio::use_awaitable;
using MetricType = metrics::names::Type;

const std::string kUpgrade =
    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n";

// Polls `done` every 50 ms for up to `limit`.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

std::size_t count_lines(const std::string& log, const std::string& needle) {
  std::size_t n = 0;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
  return n;
}

const char* type_name(MetricType t) {
  switch (t) {
    case MetricType::counter: return "counter";
    case MetricType::gauge: return "gauge";
    case MetricType::histogram: return "histogram";
  }
  return "?";
}

class MetricsE2E : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { WSTEER_REQUIRE_PRIVILEGED(); }
  void TearDown() override {
    if (HasFailure() && agent_) std::cerr << "---- agent log ----\n" << agent_->process().log();
    agent_.reset();
    backends_.reset();
    topology_.reset();
  }

  void start(const std::vector<std::string>& extra_args = {}, const std::string& endpoints = "") {
    topology_ = std::make_unique<Topology>(3);
    backends_ = std::make_unique<Backends>(*topology_, dir_);
    agent_ = std::make_unique<AgentUnderTest>(*topology_, dir_, endpoints.empty() ? backends_->endpoints() : endpoints,
                                              GetParam(), extra_args);
  }

  bool splice() const { return GetParam() == "splice"; }

  HttpReply get(const std::string& path) const {
    return http_exchange(topology_->agent_ns(), agent_->host(), AgentUnderTest::kMetricsPort,
                         "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  prom::Exposition scrape() const {
    const auto reply = get("/metrics");
    if (reply.status != 200) throw std::runtime_error("GET /metrics: " + std::to_string(reply.status));
    return prom::parse(reply.body);  // throws on any line a scraper would refuse
  }
  int ask(const std::string& request) const {
    return http_exchange(topology_->client_ns(), agent_->host(), AgentUnderTest::kPort, request).status;
  }
  // Lists only `endpoints` and waits until the agent has taken the change in.
  void relist(const std::string& endpoints) {
    const double version = scrape().sum(std::string(metrics::names::endpoints_version));
    agent_->write_endpoints(endpoints);
    ASSERT_TRUE(eventually([&] { return scrape().sum(std::string(metrics::names::endpoints_version)) > version; }));
  }

  TempDir dir_;
  std::unique_ptr<Topology> topology_;
  std::unique_ptr<Backends> backends_;
  std::unique_ptr<AgentUnderTest> agent_;
};

// Every family the agent registers is documented in metric_names.h, and every documented one is
// scraped with HELP and the right TYPE; labels name backends, never clients.
void expect_well_formed(const prom::Exposition& e, bool splice, const std::string& client_address) {
  std::set<std::string> documented;
  for (const auto& f : metrics::names::kFamilies) {
    const std::string name(f.name);
    documented.insert(name);
    const auto it = e.families.find(name);
    if (it == e.families.end()) {
      EXPECT_FALSE((!f.splice_only || splice) && !f.kubernetes_only && !f.xdp_only) << name << " is missing";
      continue;
    }
    EXPECT_TRUE(it->second.help && !it->second.help->empty()) << name << " has no HELP";
    EXPECT_EQ(it->second.type.value_or("none"), type_name(f.type)) << name;
    if (f.type == MetricType::counter) {
      EXPECT_TRUE(name.ends_with("_total")) << name;
    }
  }
  for (const auto& [name, info] : e.families) {
    if (name.rfind("wsteer_", 0) != 0) continue;  // prometheus-cpp exports nothing else; be lenient
    EXPECT_TRUE(documented.count(name)) << name << " is exported but not in metric_names.h";
  }
  const std::set<std::string> allowed_labels{"result", "reason", "code_class", "direction", "service", "backend", "state", "map", "le", "action"};
  for (const auto& s : e.samples) {
    for (const auto& [label, value] : s.labels) {
      EXPECT_TRUE(allowed_labels.count(label)) << s.name << " has label " << label;
      EXPECT_EQ(value.find(client_address), std::string::npos) << s.name << " names a client: " << value;
    }
  }
}

TEST_P(MetricsE2E, ScrapeAfterRealTrafficCountsEveryPath) {
  start();
  namespace n = metrics::names;
  const auto s = [](std::string_view v) { return std::string(v); };
  const auto first = scrape();
  expect_well_formed(first, splice(), topology_->client_address());
  EXPECT_EQ(first.sum(s(n::maglev_rebuilds_total)), 1);
  EXPECT_GT(first.sum(s(n::maglev_last_rebuild_duration_seconds)), 0);
  EXPECT_EQ(first.sum(s(n::endpoints_version)), 1);
  EXPECT_EQ(first.sum(s(n::endpoints_reloads_total), {{"result", "ok"}}), 1);
  EXPECT_EQ(first.sum(s(n::handshake_seconds) + "_count"), 0);
  for (const char* b : {"b0", "b1", "b2"}) {  // visible at zero before anything happened
    EXPECT_EQ(first.count(s(n::backend_connect_failures_total), {{"backend", b}}), 1u) << b;
    EXPECT_EQ(first.count(s(n::backend_active_connections), {{"backend", b}}), 1u) << b;
    EXPECT_EQ(first.sum(s(n::backend_state), {{"backend", b}, {"state", "active"}}), 1) << b;
  }
  EXPECT_EQ(first.count(s(n::connections_total), {{"result", "rejected"}, {"reason", "not_upgrade"}}), 1u);
  if (splice()) {
    for (const char* map : {"wsteer_flows", "wsteer_targets", "wsteer_spliced"}) {
      EXPECT_EQ(first.sum(s(n::bpf_map_max_entries), {{"map", map}}), 262144) << map;
      EXPECT_EQ(first.count(s(n::bpf_map_entries), {{"map", map}}), 1u) << map;
    }
  }

  // K WebSocket clients, M messages of S bytes each, all open at once.
  constexpr int K = 4, M = 5;
  constexpr std::size_t S = 1000;
  // RFC 6455 5.2: 2 bytes + 2 of extended length (126..65535) + 4 of mask from the client;
  // the server's frames are not masked.
  constexpr double kUp = K * M * (S + 8.0), kDown = K * M * (S + 4.0);
  prom::Exposition before_messages, open;
  run_in_netns(topology_->client_ns(), 30s, [&]() -> awaitable<void> {
    std::vector<Connected> clients;
    for (int i = 0; i < K; ++i) clients.push_back(co_await connect_ws(agent_->host(), AgentUnderTest::kPort));
    before_messages = scrape();
    for (auto& c : clients)
      for (int m = 0; m < M; ++m) {
        const std::string payload(S, static_cast<char>('a' + m));
        EXPECT_EQ(co_await round_trip(*c.ws, payload), payload);
      }
    open = scrape();
    for (auto& c : clients) co_await c.ws->async_close(websocket::close_code::normal, use_awaitable);
  });
  const auto delta = [&](const std::string& name, const std::map<std::string, std::string>& match = {}) {
    return open.sum(name, match) - before_messages.sum(name, match);
  };
  EXPECT_EQ(open.sum(s(n::connections_total), {{"result", splice() ? "spliced" : "proxied"}, {"reason", "none"}}), K);
  EXPECT_EQ(open.sum(s(n::connections_active)), K);
  EXPECT_EQ(open.sum(s(n::backend_active_connections)), K);
  EXPECT_EQ(open.sum(s(n::backend_connections_total)), K);
  EXPECT_EQ(open.sum(s(n::handshake_seconds) + "_count"), K);
  EXPECT_EQ(open.sum(s(n::handshake_seconds) + "_bucket", {{"le", "+Inf"}}), K);
  EXPECT_GT(open.sum(s(n::handshake_seconds) + "_sum"), 0);
  const std::map<std::string, std::string> up{{"direction", "client_to_backend"}}, down{{"direction", "backend_to_client"}};
  if (splice()) {
    EXPECT_EQ(delta(s(n::spliced_bytes_total), up), kUp);
    EXPECT_EQ(delta(s(n::spliced_bytes_total), down), kDown);
    EXPECT_EQ(delta(s(n::backend_spliced_bytes_total), up), kUp);
    EXPECT_EQ(delta(s(n::backend_spliced_bytes_total), down), kDown);
    EXPECT_EQ(delta(s(n::userspace_bytes_total)), 0) << "a spliced payload byte crossed userspace";
    EXPECT_GE(delta(s(n::spliced_skbs_total), up), K * M);
    EXPECT_EQ(open.sum(s(n::spliced_flows)), K);
    for (const char* map : {"wsteer_flows", "wsteer_targets", "wsteer_spliced"})
      EXPECT_EQ(open.sum(s(n::bpf_map_entries), {{"map", map}}), 2 * K) << map;
    EXPECT_EQ(open.sum(s(n::splice_redirect_failures_total)), 0);
  } else {
    EXPECT_EQ(delta(s(n::userspace_bytes_total), up), kUp);
    EXPECT_EQ(delta(s(n::userspace_bytes_total), down), kDown);
    EXPECT_EQ(open.sum(s(n::spliced_bytes_total)), 0);
  }
  EXPECT_TRUE(eventually([&] {
    const auto e = scrape();
    return e.sum(s(n::connections_active)) == 0 && e.sum(s(n::backend_active_connections)) == 0 &&
           e.sum(s(n::bpf_map_entries)) == 0;
  })) << "connections still counted after every client closed";

  // Rejected by the agent, and refused by a backend (relayed as is).
  EXPECT_EQ(ask("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n\r\n"), 400);  // plain HTTP is proxied; h2c is not
  EXPECT_EQ(ask("NOT HTTP AT ALL\r\n\r\n"), 400);
  EXPECT_EQ(ask("GET /reject HTTP/1.1\r\nHost: x\r\n" + kUpgrade), 403);

  // A backend that refuses TCP: listed alone, so nothing to fall back to.
  relist("refused " + topology_->backend_address(0) + ":9001\n");
  EXPECT_EQ(scrape().sum(s(n::backend_connect_failures_total), {{"backend", "refused"}}), 0);
  EXPECT_EQ(scrape().count(s(n::backend_connect_failures_total), {{"backend", "refused"}}), 1u);
  EXPECT_EQ(ask("GET / HTTP/1.1\r\nHost: x\r\n" + kUpgrade), 502);

  const auto last = scrape();
  expect_well_formed(last, splice(), topology_->client_address());
  EXPECT_EQ(last.sum(s(n::connections_total), {{"result", "rejected"}, {"reason", "not_upgrade"}}), 1);
  EXPECT_EQ(last.sum(s(n::connections_total), {{"result", "rejected"}, {"reason", "malformed"}}), 1);
  EXPECT_EQ(last.sum(s(n::connections_total), {{"result", "rejected"}}), 2);
  EXPECT_EQ(last.sum(s(n::connections_total), {{"result", "backend_rejected"}, {"reason", "4xx"}}), 1);
  EXPECT_EQ(last.sum(s(n::connections_total), {{"result", "backend_error"}, {"reason", "connect_failed"}}), 1);
  EXPECT_EQ(last.sum(s(n::connections_total)), K + 4);
  EXPECT_EQ(last.sum(s(n::backend_connect_failures_total), {{"backend", "refused"}}), 1);
  EXPECT_EQ(last.sum(s(n::maglev_rebuilds_total)), 2);
  EXPECT_EQ(last.sum(s(n::handshake_seconds) + "_count"), K) << "only relayed 101s are timed";

  // One log line per rejected or failed connection, with its reason; successes only at debug.
  const auto log = agent_->process().log();
  EXPECT_EQ(count_lines(log, "connection rejected reason=not_upgrade"), 1u) << log;
  EXPECT_EQ(count_lines(log, "connection rejected reason=malformed"), 1u) << log;
  EXPECT_EQ(count_lines(log, "connection backend_rejected reason=4xx"), 1u) << log;
  EXPECT_EQ(count_lines(log, "connection backend_error reason=connect_failed"), 1u) << log;
  EXPECT_EQ(count_lines(log, "connection "), 4u) << "successes are logged at debug only:\n" << log;
}

TEST_P(MetricsE2E, JsonLogsStayOneValidObjectPerLine) {
  // A backend name with a quote, a backslash and a control character, refused at TCP level.
  const std::string odd_name = "we\"ird\\name\x01";
  topology_ = std::make_unique<Topology>(3);
  backends_ = std::make_unique<Backends>(*topology_, dir_);
  agent_ = std::make_unique<AgentUnderTest>(
      *topology_, dir_, odd_name + " " + topology_->backend_address(0) + ":9001\n", GetParam(),
      std::vector<std::string>{"--log-format", "json", "--log-level", "debug", "--handshake-timeout", "1"});

  EXPECT_EQ(ask("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n\r\n"), 400);                                       // not_upgrade
  EXPECT_EQ(ask("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: close\r\n\r\n"), 400);  // connection
  EXPECT_EQ(ask("NOT HTTP AT ALL\r\n\r\n"), 400);                                                   // malformed
  EXPECT_EQ(ask("GET / HTTP/1.1\r\nHost: x\r\n"), 0);                                                // timeout
  EXPECT_EQ(ask("GET / HTTP/1.1\r\nHost: x\r\n" + kUpgrade), 502);                                   // connect_failed
  relist(backends_->endpoints());
  run_in_netns(topology_->client_ns(), 10s, [&]() -> awaitable<void> {
    auto c = co_await connect_ws(agent_->host(), AgentUnderTest::kPort);
    EXPECT_EQ(co_await round_trip(*c.ws, "hello"), "hello");
    co_await c.ws->async_close(websocket::close_code::normal, use_awaitable);
  });

  const auto log = agent_->process().log();
  std::istringstream in(log);
  std::map<std::string, int> outcomes;  // "result reason" -> lines
  std::map<std::string, std::string> outcome_level;
  bool odd_name_seen = false;
  int lines = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    ++lines;
    boost::system::error_code ec;
    const auto value = boost::json::parse(line, ec);
    ASSERT_FALSE(ec) << "not JSON (" << ec.message() << "): " << line;
    ASSERT_TRUE(value.is_object()) << line;
    const auto& o = value.as_object();
    for (const char* key : {"ts", "level", "msg"}) ASSERT_TRUE(o.contains(key) && o.at(key).is_string()) << line;
    const std::string msg(o.at("msg").as_string());
    if (msg.find(odd_name) != std::string::npos) odd_name_seen = true;
    if (msg.rfind("connection ", 0) == 0) {
      std::istringstream words(msg.substr(11));
      std::string result, reason;
      words >> result >> reason;
      if (!reason.empty() && reason.back() == ':') reason.pop_back();
      outcomes[result + " " + reason]++;
      outcome_level[result + " " + reason] = std::string(o.at("level").as_string());
    }
  }
  EXPECT_GT(lines, 5);
  EXPECT_TRUE(odd_name_seen) << "the backend's name did not survive JSON escaping:\n" << log;
  const std::map<std::string, int> expected{
      {"rejected reason=not_upgrade", 1}, {"rejected reason=connection", 1}, {"rejected reason=malformed", 1},
      {"rejected reason=timeout", 1},     {"backend_error reason=connect_failed", 1},
      {splice() ? "spliced reason=none" : "proxied reason=none", 1}};
  EXPECT_EQ(outcomes, expected) << log;
  EXPECT_EQ(outcome_level[splice() ? "spliced reason=none" : "proxied reason=none"], "debug");
  EXPECT_EQ(outcome_level["backend_error reason=connect_failed"], "warning");
  EXPECT_EQ(outcome_level["rejected reason=not_upgrade"], "info");
}

INSTANTIATE_TEST_SUITE_P(Datapaths, MetricsE2E, ::testing::Values("splice", "userspace"),
                         [](const auto& info) { return info.param; });

// /healthz and /readyz through the agent's life, as a kubelet would see them. The agent is
// started by hand: AgentUnderTest waits for ready, and here it must start not ready.
class HealthE2E : public ::testing::Test {
 protected:
  void SetUp() override { WSTEER_REQUIRE_PRIVILEGED(); }
};

TEST_F(HealthE2E, ProbesFollowEndpointsVerdictAndShutdown) {
  TempDir dir;
  Topology topology(1);
  Backends backends(topology, dir);
  const auto endpoints = dir.path() / "endpoints";
  std::ofstream(endpoints) << "this is not an endpoint\n";
  const std::filesystem::path bpffs =
      "/sys/fs/bpf/wsteer-test-health-" + std::to_string(::getpid()) + "-" + dir.path().filename().string();
  const auto agent_bin = std::filesystem::read_symlink("/proc/self/exe").parent_path().parent_path() / "bin" / "wsteer-agent";
  const std::string host = topology.agent_client_side();
  auto agent = std::make_unique<Process>(
      topology.agent_ns(),
      std::vector<std::string>{agent_bin.string(), "--listen", host + ":8080", "--endpoints-file", endpoints.string(),
                               "--metrics-listen", host + ":9090", "--bpffs", bpffs.string(), "--shutdown-grace", "20"},
      (dir.path() / "agent.log").string());
  struct Cleanup {
    std::filesystem::path bpffs;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(bpffs, ec);
    }
  } cleanup{bpffs};
  const auto probe = [&](const std::string& path) {
    try {
      return http_exchange(topology.agent_ns(), host, 9090, "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n", 2s);
    } catch (const std::exception&) {
      return HttpReply{};  // not listening yet
    }
  };

  // Up, verdict attached, but the endpoints file is bad: alive, not ready.
  ASSERT_TRUE(eventually([&] { return probe("/healthz").status == 200; })) << agent->log();
  const auto not_ready = probe("/readyz");
  EXPECT_EQ(not_ready.status, 503);
  EXPECT_NE(not_ready.body.find("endpoints"), std::string::npos) << not_ready.body;

  // Fixed file: ready.
  {
    std::ofstream(dir.path() / "endpoints.tmp") << backends.endpoints();
    std::filesystem::rename(dir.path() / "endpoints.tmp", endpoints);
  }
  EXPECT_TRUE(eventually([&] { return probe("/readyz").status == 200; })) << agent->log();

  // Someone detaches the verdict behind the agent's back: no longer healthy. Re-attached: healthy.
  {
    const int map = bpf_obj_get((bpffs / "wsteer_spliced").c_str());
    ASSERT_GE(map, 0);
    std::uint32_t ids[4] = {}, count = 4, flags = 0;
    ASSERT_EQ(bpf_prog_query(map, BPF_SK_SKB_VERDICT, 0, &flags, ids, &count), 0);
    ASSERT_EQ(count, 1u);
    const int prog = bpf_prog_get_fd_by_id(ids[0]);
    ASSERT_GE(prog, 0);
    ASSERT_EQ(bpf_prog_detach2(prog, map, BPF_SK_SKB_VERDICT), 0);
    const auto sick = probe("/healthz");
    EXPECT_EQ(sick.status, 503);
    EXPECT_NE(sick.body.find("verdict"), std::string::npos) << sick.body;
    ASSERT_EQ(bpf_prog_attach(prog, map, BPF_SK_SKB_VERDICT, 0), 0);
    EXPECT_EQ(probe("/healthz").status, 200);
    ::close(prog);
    ::close(map);
  }

  // SIGTERM with a flow open: the agent stays up for its grace period, alive but not ready.
  run_in_netns(topology.client_ns(), 30s, [&]() -> awaitable<void> {
    auto c = co_await connect_ws(host, 8080);
    EXPECT_EQ(co_await round_trip(*c.ws, "before"), "before");
    agent->signal(SIGTERM);
    EXPECT_TRUE(eventually([&] { return probe("/readyz").status == 503; }, 5s));
    EXPECT_EQ(probe("/healthz").status, 200);
    EXPECT_EQ(co_await round_trip(*c.ws, "during"), "during") << "established flows go on while draining";
    co_await c.ws->async_close(websocket::close_code::normal, use_awaitable);
  });
  const auto status = agent->wait_exit(10s);
  ASSERT_TRUE(status.has_value()) << "the agent did not exit once its last flow ended\n" << agent->log();
  EXPECT_EQ(*status, 0) << agent->log();
  EXPECT_FALSE(std::filesystem::exists(bpffs)) << "pins left behind";
}

}  // namespace
}  // namespace wsteer::test
