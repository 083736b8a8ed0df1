// Several Services in one agent: each has its own listen address, its own backend set (here two
// endpoints files) and its own `service` label, over one shared splice datapath.
#include "harness/agent_under_test.h"
#include "harness/netns.h"
#include "harness/privileges.h"
#include "harness/ws_client.h"

#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/websocket.hpp>
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <filesystem>
#include <map>
#include <thread>

namespace wsteer::test {
namespace {

namespace asio = boost::asio;
namespace websocket = boost::beast::websocket;
using namespace std::chrono_literals;
using asio::awaitable;
using asio::use_awaitable;

constexpr unsigned short kChatPort = 8080;
constexpr unsigned short kGamesPort = 8081;

class MultiServiceE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    WSTEER_REQUIRE_PRIVILEGED();
    topology_ = std::make_unique<Topology>(3);
    backends_ = std::make_unique<Backends>(*topology_, dir_);
    std::ofstream(dir_.path() / "chat-endpoints") << "b0 " << topology_->backend_address(0) << ":9000\n"
                                                  << "b1 " << topology_->backend_address(1) << ":9000\n";
    std::ofstream(dir_.path() / "games-endpoints") << "b2 " << topology_->backend_address(2) << ":9000\n";
    const auto config = dir_.path() / "wsteer.yaml";
    std::ofstream(config) << "services:\n"
                          << "  - name: chat\n"
                          << "    endpoints-file: " << (dir_.path() / "chat-endpoints").string() << "\n"
                          << "    listen: 10.77.1.1:" << kChatPort << "\n"
                          << "  - name: games\n"
                          << "    endpoints-file: " << (dir_.path() / "games-endpoints").string() << "\n"
                          << "    listen: 10.77.1.1:" << kGamesPort << "\n"
                          << "    hash-key: [query:room]\n";
    agent_ = std::make_unique<AgentUnderTest>(*topology_, dir_, AgentUnderTest::kServicesFromArgs, "splice",
                                              std::vector<std::string>{"--config", config.string()});
  }
  void TearDown() override {
    if (agent_ && HasFailure()) std::cerr << "---- agent log ----\n" << agent_->process().log();
    agent_.reset();
    backends_.reset();
    topology_.reset();
  }
  // Where `n` clients of each service land, each exchanging one message through the splice.
  std::map<unsigned short, std::map<std::string, int>> place(int n) {
    std::map<unsigned short, std::map<std::string, int>> where;
    run_in_netns(topology_->client_ns(), 60s, [&]() -> awaitable<void> {
      for (auto port : {kChatPort, kGamesPort})
        for (int i = 0; i < n; ++i) {
          auto c = co_await connect_ws(agent_->host(), port, "/?room=" + std::to_string(i % 5));
          EXPECT_EQ(co_await round_trip(*c.ws, "hello " + std::to_string(i)), "hello " + std::to_string(i));
          where[port][c.backend]++;
          co_await c.ws->async_close(websocket::close_code::normal, use_awaitable);
        }
    });
    return where;
  }

  TempDir dir_;
  std::unique_ptr<Topology> topology_;
  std::unique_ptr<Backends> backends_;
  std::unique_ptr<AgentUnderTest> agent_;
};

TEST_F(MultiServiceE2E, EachServiceReachesOnlyItsOwnBackends) {
  const auto where = place(60);
  ASSERT_EQ(where.at(kChatPort).size(), 2u) << "chat should spread over b0 and b1";
  EXPECT_GT(where.at(kChatPort).at("b0"), 10);
  EXPECT_GT(where.at(kChatPort).at("b1"), 10);
  ASSERT_EQ(where.at(kGamesPort).size(), 1u);
  EXPECT_EQ(where.at(kGamesPort).at("b2"), 60);

  // Per-backend series carry the Service; both went through the kernel splice.
  const auto m = agent_->metrics();
  EXPECT_EQ(m.at(R"(wsteer_backend_connections_total{service="chat",backend="b0"})") +
                m.at(R"(wsteer_backend_connections_total{service="chat",backend="b1"})"),
            60);
  EXPECT_EQ(m.at(R"(wsteer_backend_connections_total{service="games",backend="b2"})"), 60);
  EXPECT_EQ(m.count(R"(wsteer_backend_connections_total{service="games",backend="b0"})"), 0u);
  EXPECT_EQ(m.at(R"(wsteer_connections_total{reason="none",result="spliced"})"), 120);
  EXPECT_GE(m.at(R"(wsteer_endpoints_version{service="chat"})"), 1);
  EXPECT_GE(m.at(R"(wsteer_endpoints_version{service="games"})"), 1);
}

TEST_F(MultiServiceE2E, AnEndpointChangeInOneServiceLeavesTheOtherAlone) {
  const auto games_version = agent_->metrics().at(R"(wsteer_endpoints_version{service="games"})");
  {
    const auto tmp = dir_.path() / "chat-endpoints.tmp";
    std::ofstream(tmp) << "b1 " << topology_->backend_address(1) << ":9000\n";
    std::filesystem::rename(tmp, dir_.path() / "chat-endpoints");
  }
  for (int i = 0; i < 100 && agent_->metrics().at(R"(wsteer_endpoints_version{service="chat"})") < 2; ++i)
    std::this_thread::sleep_for(50ms);
  const auto where = place(30);
  EXPECT_EQ(where.at(kChatPort).size(), 1u);
  EXPECT_EQ(where.at(kChatPort).at("b1"), 30);
  EXPECT_EQ(where.at(kGamesPort).at("b2"), 30);
  EXPECT_EQ(agent_->metrics().at(R"(wsteer_endpoints_version{service="games"})"), games_version);
}

}  // namespace
}  // namespace wsteer::test
