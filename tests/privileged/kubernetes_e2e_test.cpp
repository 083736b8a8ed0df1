// The agent follows a Kubernetes Service through its EndpointSlices, served by the test API
// server (tests/harness/fake_apiserver.h) inside the agent's namespace, while real WebSocket
// clients stream through the kernel splice to echo servers in backend namespaces: slices are
// created, scaled, terminated and deleted, the server dies and comes back, history is compacted
// (410 Gone), the token rotates. Every message is checked byte for byte, and flows to pods that
// terminate or leave stay up.
#include "harness/agent_under_test.h"
#include "harness/command.h"
#include "harness/fake_apiserver.h"
#include "harness/test_cluster.h"
#include "harness/netns.h"
#include "harness/privileges.h"
#include "harness/ws_client.h"

#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <cstdlib>
#include <thread>

namespace wsteer::test {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
namespace websocket = boost::beast::websocket;
using namespace std::chrono_literals;
using asio::awaitable;
using asio::use_awaitable;

constexpr const char* kNamespace = "demo";
constexpr const char* kServiceName = "chat";
constexpr const char* kServiceLabel = "demo/chat";

struct Pod {
  std::string name, ip;
  bool ready = true, serving = true, terminating = false;
};

// An EndpointSlice as the EndpointSlice controller writes it for Service demo/chat, port "ws".
json::object endpoint_slice(const std::string& name, const std::vector<Pod>& pods, const std::string& family = "IPv4") {
  json::array endpoints;
  for (const auto& p : pods)
    endpoints.push_back(json::object{
        {"addresses", json::array{json::value(p.ip)}},
        {"conditions", json::object{{"ready", p.ready}, {"serving", p.serving}, {"terminating", p.terminating}}},
        {"targetRef", json::object{{"kind", "Pod"}, {"namespace", kNamespace}, {"name", p.name}}}});
  return json::object{
      {"apiVersion", "discovery.k8s.io/v1"},
      {"kind", "EndpointSlice"},
      {"metadata", json::object{{"name", name},
                                {"namespace", kNamespace},
                                {"labels", json::object{{"kubernetes.io/service-name", kServiceName},
                                                        {"endpointslice.kubernetes.io/managed-by", "wsteer-test"}}}}},
      {"addressType", family},
      {"endpoints", std::move(endpoints)},
      {"ports", json::array{json::object{{"name", "ws"}, {"port", 9000}, {"protocol", "TCP"}}}}};
}

// Sum of the samples of `family` whose label text contains every one of `labels`.
double sample_sum(const std::map<std::string, double>& metrics, const std::string& family,
                  const std::vector<std::string>& labels = {}) {
  double sum = 0;
  for (const auto& [key, value] : metrics) {
    if (key != family && key.rfind(family + "{", 0) != 0) continue;
    bool all = true;
    for (const auto& l : labels) all &= key.find(l) != std::string::npos;
    if (all) sum += value;
  }
  return sum;
}

// Parameter: "test" (the project's test API server, always) or "real" (etcd + the kube-apiserver
// named by WSTEER_KUBE_APISERVER; skipped without it).
class KubernetesE2E : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "real" && !std::getenv("WSTEER_KUBE_APISERVER"))
      GTEST_SKIP() << "real-server tier: set WSTEER_KUBE_APISERVER=/path/to/kube-apiserver (1.26 or newer) to run "
                      "these scenarios against a real API server and etcd";
    WSTEER_REQUIRE_PRIVILEGED();
    topology_ = std::make_unique<Topology>(4);
    backends_ = std::make_unique<Backends>(*topology_, dir_);
  }
  void TearDown() override {
    if (agent_ && HasFailure()) std::cerr << "---- agent log ----\n" << agent_->process().log();
    agent_.reset();
    api_.reset();
    backends_.reset();
    topology_.reset();
  }

  Pod pod(int i) const { return {"chat-" + std::to_string(i), topology_->backend_address(i)}; }

  // The API server listens on the agent namespace's loopback; the agent reaches it through a
  // kubeconfig naming its CA and a token file (which the rotation test rewrites). Its token is
  // allowed what the chart's ClusterRole allows, nothing more.
  void start_api_server() {
    api_ = GetParam() == "real" ? make_real_cluster(topology_->agent_ns(), dir_.path(), kNamespace)
                                : make_fake_cluster(topology_->agent_ns());
  }
  // Faults only the test API server can inject; a scenario that needs them skips on a real one.
  FakeApiServer* fake() {
    return api_->fake();
  }
  void write_token(const std::string& token) {
    const auto tmp = dir_.path() / "token.tmp";
    std::ofstream(tmp) << token << "\n";
    std::filesystem::rename(tmp, dir_.path() / "token");
  }
  void start_agent(const std::vector<std::string>& more_args = {}, const std::string& token = "") {
    write_token(token.empty() ? api_->agent_token() : token);
    const auto kubeconfig = write_kubeconfig(dir_.path(), *api_, dir_.path() / "token");
    const auto config = dir_.path() / "wsteer.yaml";
    std::ofstream(config) << "kubeconfig: " << kubeconfig.string() << "\n"
                          << "kube-watch-timeout: 3\n"  // renew watches often: the test sees re-watches
                          << "services:\n"
                          << "  - service: " << kServiceLabel << "\n"
                          << "    port: ws\n"
                          << "    listen: 10.77.1.1:" << AgentUnderTest::kPort << "\n";
    std::vector<std::string> args{"--config", config.string()};
    args.insert(args.end(), more_args.begin(), more_args.end());
    agent_ = std::make_unique<AgentUnderTest>(*topology_, dir_, AgentUnderTest::kServicesFromArgs, "splice", args);
  }

  std::map<std::string, double> metrics() const { return agent_->metrics(); }
  double endpoints_version() const {
    return sample_sum(metrics(), "wsteer_endpoints_version", {"service=\"" + std::string(kServiceLabel) + "\""});
  }
  // Waits until the agent's backend set for the Service is exactly `expected` (name -> state),
  // as its metrics show it; fails the test after 10 s.
  void await_backends(const std::map<std::string, std::string>& expected) {
    std::map<std::string, std::string> seen;
    for (int i = 0; i < 200; ++i) {
      seen.clear();
      for (const auto& [key, value] : metrics()) {
        if (key.rfind("wsteer_backend_state{", 0) != 0 || value != 1) continue;
        const auto field = [&](const std::string& label) {
          const auto at = key.find(label + "=\"");
          if (at == std::string::npos) return std::string();
          const auto start = at + label.size() + 2;
          return key.substr(start, key.find('"', start) - start);
        };
        seen[field("backend")] = field("state");
      }
      if (seen == expected) return;
      std::this_thread::sleep_for(50ms);
    }
    std::string text;
    for (const auto& [name, state] : seen) text += name + "=" + state + " ";
    ADD_FAILURE() << "backend set never became the expected one; last seen: " << text;
  }

  // The clients' io_context: streams opened in one run_in_netns call are used in the next ones.
  asio::io_context client_io_;
  TempDir dir_;
  std::unique_ptr<Topology> topology_;
  std::unique_ptr<Backends> backends_;
  std::unique_ptr<TestCluster> api_;
  std::unique_ptr<AgentUnderTest> agent_;
};

// `where` counts flows by the backend that answered (the echo server in namespace N calls itself
// bN, and serves pod chat-N); the agent's own names for them are the pods' names.

// Long-lived clients: each keeps its connection and checks every echoed byte on demand.
struct Streams {
  std::vector<Connected> conns;
  int next = 0;
};

awaitable<void> open_streams(Streams& s, const std::string& host, int n, std::map<std::string, int>* where = nullptr) {
  for (int i = 0; i < n; ++i) {
    auto c = co_await connect_ws(host, AgentUnderTest::kPort, "/");
    if (where) (*where)[c.backend]++;
    s.conns.push_back(std::move(c));
  }
}

// One 16 KiB message of distinct bytes through every stream, compared byte for byte.
awaitable<void> exchange_all(Streams& s) {
  for (auto& c : s.conns) {
    std::string message(16 * 1024, '\0');
    for (std::size_t i = 0; i < message.size(); ++i) message[i] = static_cast<char>((i * 131 + s.next) & 0xff);
    ++s.next;
    const auto echoed = co_await round_trip(*c.ws, message, true);
    EXPECT_EQ(echoed.size(), message.size()) << "via " << c.backend;
    EXPECT_TRUE(echoed == message) << "bytes changed via " << c.backend;
  }
}

awaitable<void> close_all(Streams& s) {
  for (auto& c : s.conns) co_await c.ws->async_close(websocket::close_code::normal, use_awaitable);
  s.conns.clear();
}

TEST_P(KubernetesE2E, FollowsSlicesAsPodsComeTerminateAndGoWhileFlowsStream) {
  start_api_server();
  api_->put_endpoint_slice(endpoint_slice("chat-a", {pod(0), pod(1)}));
  start_agent();
  await_backends({{"chat-0", "active"}, {"chat-1", "active"}});

  Streams old_streams;
  std::map<std::string, int> where;
  run_in_netns(client_io_, topology_->client_ns(), 60s, [&]() -> awaitable<void> {
    co_await open_streams(old_streams, agent_->host(), 20, &where);
    co_await exchange_all(old_streams);
  });
  EXPECT_EQ(where.size(), 2u);  // (the echo servers name themselves b0..b3: pod chat-N is bN)
  EXPECT_GT(where["b0"], 0);
  EXPECT_GT(where["b1"], 0);

  // Scale up: a second slice with two more pods.
  api_->put_endpoint_slice(endpoint_slice("chat-b", {pod(2), pod(3)}));
  await_backends({{"chat-0", "active"}, {"chat-1", "active"}, {"chat-2", "active"}, {"chat-3", "active"}});
  where.clear();
  Streams more;
  run_in_netns(client_io_, topology_->client_ns(), 60s, [&]() -> awaitable<void> {
    co_await open_streams(more, agent_->host(), 40, &where);
    co_await exchange_all(old_streams);
    co_await exchange_all(more);
    co_await close_all(more);
  });
  EXPECT_EQ(where.size(), 4u) << "new flows spread over all four pods";

  // chat-0 terminates: serving and terminating, so it drains; its established flows stay.
  auto terminating = pod(0);
  terminating.ready = false;
  terminating.terminating = true;
  api_->put_endpoint_slice(endpoint_slice("chat-a", {terminating, pod(1)}));
  await_backends({{"chat-0", "draining"}, {"chat-1", "active"}, {"chat-2", "active"}, {"chat-3", "active"}});
  where.clear();
  run_in_netns(client_io_, topology_->client_ns(), 60s, [&]() -> awaitable<void> {
    co_await open_streams(more, agent_->host(), 30, &where);
    co_await exchange_all(old_streams);
    co_await close_all(more);
  });
  EXPECT_EQ(where.count("b0"), 0u) << "no new flow goes to a terminating pod";

  // chat-0 leaves its slice and the second slice is deleted: gone from the list, their flows
  // still stream (they drain as endpoints that left the list do).
  api_->put_endpoint_slice(endpoint_slice("chat-a", {pod(1)}));
  api_->delete_endpoint_slice(kNamespace, "chat-b");
  for (int i = 0; i < 200 && sample_sum(metrics(), "wsteer_backend_state", {"backend=\"chat-2\"", "state=\"active\""}); ++i)
    std::this_thread::sleep_for(50ms);
  where.clear();
  run_in_netns(client_io_, topology_->client_ns(), 60s, [&]() -> awaitable<void> {
    co_await open_streams(more, agent_->host(), 20, &where);
    co_await exchange_all(old_streams);
    co_await exchange_all(more);
    co_await close_all(more);
  });
  EXPECT_EQ(where.size(), 1u);
  EXPECT_EQ(where["b1"], 20) << "only the pod still in a slice gets new flows";

  const auto m = metrics();
  EXPECT_GE(sample_sum(m, "wsteer_k8s_watch_events_total", {"type=\"ADDED\""}), 1);
  EXPECT_GE(sample_sum(m, "wsteer_k8s_watch_events_total", {"type=\"MODIFIED\""}), 2);
  EXPECT_GE(sample_sum(m, "wsteer_k8s_watch_events_total", {"type=\"DELETED\""}), 1);
  EXPECT_GT(sample_sum(m, "wsteer_k8s_last_sync_timestamp_seconds"), 1.7e9);
  EXPECT_EQ(sample_sum(m, "wsteer_connections_total", {"result=\"spliced\""}), 20 + 40 + 30 + 20);

  run_in_netns(client_io_, topology_->client_ns(), 30s, [&]() -> awaitable<void> {
    co_await exchange_all(old_streams);
    co_await close_all(old_streams);
  });
}

TEST_P(KubernetesE2E, NotReadyUntilTheFirstListSucceeds) {
  start_api_server();
  if (!fake()) GTEST_SKIP() << "needs the test API server's 503 injection";
  api_->put_endpoint_slice(endpoint_slice("chat-a", {pod(0), pod(1)}));
  fake()->set_unavailable(true);
  // /readyz while the API server answers 503, then the server recovers.
  std::atomic<bool> saw_not_ready{false}, stop{false};
  std::thread recover([&] {
    const auto until = std::chrono::steady_clock::now() + 1500ms;
    while (std::chrono::steady_clock::now() < until && !stop) {
      try {
        if (http_exchange(topology_->agent_ns(), "10.77.1.1", AgentUnderTest::kMetricsPort,
                          "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
                .status == 503)
          saw_not_ready = true;
      } catch (const std::exception&) {  // not listening yet
      }
      std::this_thread::sleep_for(50ms);
    }
    fake()->set_unavailable(false);
  });
  try {
    start_agent();
  } catch (...) {
    stop = true;
    recover.join();
    throw;
  }
  recover.join();
  EXPECT_TRUE(saw_not_ready) << "/readyz must be 503 until the first list succeeds";
  EXPECT_GE(sample_sum(metrics(), "wsteer_k8s_errors_total", {"reason=\"server\""}), 1);
  await_backends({{"chat-0", "active"}, {"chat-1", "active"}});
}

TEST_P(KubernetesE2E, AnApiServerOutageKeepsTheLastGoodSet) {
  start_api_server();
  api_->put_endpoint_slice(endpoint_slice("chat-a", {pod(0), pod(1)}));
  start_agent();
  await_backends({{"chat-0", "active"}, {"chat-1", "active"}});
  Streams streams;
  run_in_netns(client_io_, topology_->client_ns(), 30s, [&]() -> awaitable<void> {
    co_await open_streams(streams, agent_->host(), 10);
    co_await exchange_all(streams);
  });

  // The API server goes away: established flows stream on, new ones still find the last set.
  api_->stop();
  std::this_thread::sleep_for(1500ms);
  std::map<std::string, int> where;
  Streams during;
  run_in_netns(client_io_, topology_->client_ns(), 30s, [&]() -> awaitable<void> {
    co_await open_streams(during, agent_->host(), 20, &where);
    co_await exchange_all(streams);
    co_await exchange_all(during);
    co_await close_all(during);
  });
  EXPECT_EQ(where.size(), 2u) << "the last good backend set stays in force during an outage";
  EXPECT_GE(sample_sum(metrics(), "wsteer_k8s_errors_total"), 1);
  EXPECT_EQ(http_exchange(topology_->agent_ns(), "10.77.1.1", AgentUnderTest::kMetricsPort,
                          "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
                .status,
            200)
      << "an outage after the first list does not make the agent unready";

  // It comes back; a change made since then reaches the agent.
  api_->restart();
  api_->put_endpoint_slice(endpoint_slice("chat-a", {pod(0), pod(1), pod(2)}));
  await_backends({{"chat-0", "active"}, {"chat-1", "active"}, {"chat-2", "active"}});
  run_in_netns(client_io_, topology_->client_ns(), 30s, [&]() -> awaitable<void> {
    co_await exchange_all(streams);
    co_await close_all(streams);
  });
}

TEST_P(KubernetesE2E, GoneAfterCompactionRelistsToTheRightSet) {
  start_api_server();
  if (!fake()) GTEST_SKIP() << "needs the test API server's compaction on demand";
  api_->put_endpoint_slice(endpoint_slice("chat-a", {pod(0), pod(1)}));
  api_->put_endpoint_slice(endpoint_slice("chat-b", {pod(2)}));
  start_agent();
  await_backends({{"chat-0", "active"}, {"chat-1", "active"}, {"chat-2", "active"}});
  const auto relists = sample_sum(metrics(), "wsteer_k8s_relists_total");

  // While the agent cannot watch, slices change and the history it would resume from is
  // compacted away: its next watch gets 410 Gone and it must relist.
  api_->stop();
  api_->put_endpoint_slice(endpoint_slice("chat-a", {pod(1), pod(3)}));
  api_->delete_endpoint_slice(kNamespace, "chat-b");
  api_->put_endpoint_slice(endpoint_slice("chat-c", {pod(0)}));
  fake()->compact();
  api_->restart();
  await_backends({{"chat-0", "active"}, {"chat-1", "active"}, {"chat-3", "active"}});
  EXPECT_GE(sample_sum(metrics(), "wsteer_k8s_relists_total"), relists + 1);

  std::map<std::string, int> where;
  Streams s;
  run_in_netns(client_io_, topology_->client_ns(), 30s, [&]() -> awaitable<void> {
    co_await open_streams(s, agent_->host(), 30, &where);
    co_await exchange_all(s);
    co_await close_all(s);
  });
  EXPECT_EQ(where.count("b2"), 0u);
  EXPECT_EQ(where.size(), 3u);
}

TEST_P(KubernetesE2E, DroppedWatchStreamsLoseNoEventAndARotatedTokenIsPickedUp) {
  start_api_server();
  if (!fake()) GTEST_SKIP() << "needs the test API server's dropped streams and token rotation";
  api_->put_endpoint_slice(endpoint_slice("chat-a", {pod(0)}));
  start_agent();
  await_backends({{"chat-0", "active"}});

  // Changes with the watch cut mid-event after each: none is lost or applied twice.
  api_->put_endpoint_slice(endpoint_slice("chat-a", {pod(0), pod(1)}));
  fake()->drop_connections(true);
  api_->put_endpoint_slice(endpoint_slice("chat-b", {pod(2)}));
  fake()->drop_connections(true);
  api_->put_endpoint_slice(endpoint_slice("chat-a", {pod(1)}));
  await_backends({{"chat-1", "active"}, {"chat-2", "active"}});

  // The token rotates: the old one is refused (401) until the agent reads the new file.
  fake()->set_tokens({"rotated-token"});
  for (const char* verb : {"get", "list", "watch"})
    fake()->allow("rotated-token", verb, "discovery.k8s.io", "endpointslices");
  fake()->drop_connections(false);
  std::this_thread::sleep_for(1s);
  write_token("rotated-token");
  api_->put_endpoint_slice(endpoint_slice("chat-b", {pod(2), pod(3)}));
  await_backends({{"chat-1", "active"}, {"chat-2", "active"}, {"chat-3", "active"}});
  EXPECT_GE(sample_sum(metrics(), "wsteer_k8s_errors_total", {"reason=\"unauthorized\""}), 1);
  const auto tokens = fake()->seen_tokens();
  ASSERT_FALSE(tokens.empty());
  EXPECT_EQ(tokens.back(), "rotated-token");
}

TEST_P(KubernetesE2E, ATokenWithoutTheChartsRightsIsRefusedAndTheAgentSaysWhy) {
  start_api_server();
  if (!fake()) GTEST_SKIP() << "needs a second token on the test API server";
  fake()->set_tokens({api_->agent_token(), "no-rights"});
  api_->put_endpoint_slice(endpoint_slice("chat-a", {pod(0)}));
  try {
    start_agent({}, "no-rights");
    ADD_FAILURE() << "the agent became ready without the right to list EndpointSlices";
  } catch (const std::runtime_error& e) {
    const std::string log = e.what();
    EXPECT_NE(log.find("forbidden"), std::string::npos) << log;
    EXPECT_NE(log.find("endpointslices"), std::string::npos) << "the log should quote the API server's reason";
  }
}

TEST_P(KubernetesE2E, ThousandEndpointsInTenSlicesReachTheMaglevTableQuickly) {
  start_api_server();
  // 10 slices of 100 endpoints (addresses nobody connects to: only the table is measured). A
  // change turns one slice's 100 pods terminating (draining) or back to ready.
  const auto big_slice = [](int s, bool terminating) {
    std::vector<Pod> pods;
    for (int i = 0; i < 100; ++i)
      pods.push_back({"pod-" + std::to_string(s) + "-" + std::to_string(i),
                      "10.99." + std::to_string(s) + "." + std::to_string(i + 1), !terminating, true, terminating});
    return endpoint_slice("big-" + std::to_string(s), pods);
  };
  for (int s = 0; s < 10; ++s) api_->put_endpoint_slice(big_slice(s, false));
  start_agent({"--maglev-size", "131071"});
  for (int i = 0; i < 200 && sample_sum(metrics(), "wsteer_backend_state", {"state=\"active\""}) < 1000; ++i)
    std::this_thread::sleep_for(50ms);
  EXPECT_EQ(sample_sum(metrics(), "wsteer_backend_state", {"state=\"active\""}), 1000);

  std::vector<double> millis;
  for (int round = 1; round <= 5; ++round) {
    const auto before = endpoints_version();
    const auto changed = std::chrono::steady_clock::now();
    api_->put_endpoint_slice(big_slice(round % 10, true));  // a slice still all ready turns terminating
    while (endpoints_version() == before && std::chrono::steady_clock::now() - changed < 10s)
      std::this_thread::sleep_for(2ms);
    millis.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - changed).count());
    EXPECT_GT(endpoints_version(), before);
  }
  std::sort(millis.begin(), millis.end());
  std::cout << "[ measure  ] slice change -> new Maglev table, 1000 endpoints in 10 slices, table 131071: median "
            << millis[2] << " ms, max " << millis.back() << " ms (includes the metrics poll); the last table build took "
            << 1000 * sample_sum(metrics(), "wsteer_maglev_last_rebuild_duration_seconds") << " ms\n";
  EXPECT_LT(millis[2], 2000) << "a slice change should reach the table in well under two seconds";
}

// The chart's objects, rendered with the packaging tests' values files (those whose kinds a bare
// API server knows: no ServiceMonitor CRD here), pass the real server's validation and admission.
TEST_P(KubernetesE2E, TheChartsObjectsPassAServerSideDryRun) {
  if (GetParam() != "real") GTEST_SKIP() << "needs a real kube-apiserver (admission, built-in schemas)";
  start_api_server();
  const std::filesystem::path source = WSTEER_SOURCE_DIR;
  for (const char* values : {"defaults.yaml", "two-services.yaml"}) {
    const auto out = dir_.path() / (std::string("rendered-") + values);
    const auto r = run_command({(source / ".tools/bin/helm").string(), "template", "wsteer", (source / "helm/wsteer").string(),
                                "--namespace", kNamespace, "-f", (source / "tests/packaging/values" / values).string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::ofstream(out) << r.out;
    EXPECT_NO_THROW(api_->apply_server_dry_run(out)) << values;
  }
}

INSTANTIATE_TEST_SUITE_P(ApiServers, KubernetesE2E, ::testing::Values("test", "real"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace wsteer::test
