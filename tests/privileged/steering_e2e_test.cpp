// Steering end to end: where connections land through the real agent, read from the
// X-Wsteer-Backend header each echo backend sets on its 101.
#include "harness/agent_under_test.h"
#include "harness/netns.h"
#include "harness/privileges.h"
#include "harness/ws_client.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/websocket.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <random>

namespace wsteer::test {
namespace {

namespace asio = boost::asio;
namespace websocket = boost::beast::websocket;
using namespace std::chrono_literals;
using asio::awaitable;
using asio::use_awaitable;

awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(use_awaitable);
}

class SteeringE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    WSTEER_REQUIRE_PRIVILEGED();
    topology_ = std::make_unique<Topology>(3);
    backends_ = std::make_unique<Backends>(*topology_, dir_);
  }
  void TearDown() override {
    for (auto& a : agents_)
      if (HasFailure()) std::cerr << "---- agent log ----\n" << a->process().log();
    agents_.clear();
    backends_.reset();
    topology_.reset();
  }
  AgentUnderTest& start_agent(std::vector<std::string> args, const std::string& address = "10.77.1.1") {
    agents_.push_back(std::make_unique<AgentUnderTest>(*topology_, dir_, backends_->endpoints(), "splice", args, address));
    return *agents_.back();
  }
  void client(std::chrono::milliseconds limit, const std::function<awaitable<void>()>& task) {
    run_in_netns(topology_->client_ns(), limit, task);
  }
  // Where each of `rooms` x `per_room` clients of /?room=R lands (closed right after the handshake).
  std::map<int, std::map<std::string, int>> place_rooms(const AgentUnderTest& agent, int rooms, int per_room) {
    std::map<int, std::map<std::string, int>> placement;
    client(120s, [&]() -> awaitable<void> {
      for (int r = 0; r < rooms; ++r)
        for (int k = 0; k < per_room; ++k) {
          auto c = co_await connect_ws(agent.host(), AgentUnderTest::kPort, "/game?room=" + std::to_string(r));
          placement[r][c.backend]++;
          co_await c.ws->async_close(websocket::close_code::normal, use_awaitable);
        }
    });
    return placement;
  }

  TempDir dir_;
  std::unique_ptr<Topology> topology_;
  std::unique_ptr<Backends> backends_;
  std::vector<std::unique_ptr<AgentUnderTest>> agents_;
};

// Boost.Beast 1.81's client draws Sec-WebSocket-Key from a generator that repeats (188 distinct
// keys in 3,000 handshakes), which would measure Beast rather than wsteer: these handshakes carry
// keys from std::random_device, as browsers' do.
TEST_F(SteeringE2E, ThreeThousandConnectionsSpreadEvenly) {
  auto& agent = start_agent({"--hash-key", "sec-websocket-key"});
  std::random_device random;
  std::map<std::string, int> per_backend;
  for (int i = 0; i < 3000; ++i) {
    unsigned char nonce[16];
    for (auto& b : nonce) b = static_cast<unsigned char>(random());
    std::string key(boost::beast::detail::base64::encoded_size(sizeof(nonce)), '\0');
    key.resize(boost::beast::detail::base64::encode(key.data(), nonce, sizeof(nonce)));
    const auto reply = http_exchange(topology_->client_ns(), agent.host(), AgentUnderTest::kPort,
                                     "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                     "Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n");
    ASSERT_EQ(reply.status, 101);
    per_backend[reply.header("X-Wsteer-Backend")]++;
  }
  ASSERT_EQ(per_backend.size(), 3u);
  const auto [lo, hi] = std::minmax_element(per_backend.begin(), per_backend.end(),
                                            [](const auto& a, const auto& b) { return a.second < b.second; });
  EXPECT_LE(static_cast<double>(hi->second) / lo->second, 1.15)
      << "busiest " << hi->first << "=" << hi->second << ", quietest " << lo->first << "=" << lo->second;
}

TEST_F(SteeringE2E, EveryoneInARoomMeetsOnOneBackend) {
  auto& agent = start_agent({"--hash-key", "query:room,sec-websocket-key"});
  const auto placement = place_rooms(agent, 200, 5);
  std::map<std::string, int> rooms_per_backend;
  for (const auto& [room, where] : placement) {
    EXPECT_EQ(where.size(), 1u) << "room " << room << " was split over backends";
    rooms_per_backend[where.begin()->first]++;
  }
  EXPECT_EQ(rooms_per_backend.size(), 3u) << "rooms should still spread over backends";
}

TEST_F(SteeringE2E, RemovedBackendKeepsItsFlowsAndOtherRoomsStayPut) {
  auto& agent = start_agent({"--hash-key", "query:room"});
  const auto before = place_rooms(agent, 60, 1);
  client(30s, [&]() -> awaitable<void> {
    std::vector<Connected> open;
    for (int r = 0; r < 30; ++r) open.push_back(co_await connect_ws(agent.host(), AgentUnderTest::kPort, "/?room=" + std::to_string(r)));
    agent.write_endpoints("b1 10.77.11.2:9000\nb2 10.77.12.2:9000\n");
    co_await sleep_for(800ms);
    for (auto& c : open) EXPECT_EQ(co_await round_trip(*c.ws, "alive"), "alive") << "a flow on " << c.backend << " was cut";
  });
  const auto after = place_rooms(agent, 60, 1);
  for (const auto& [room, where] : before) {
    const auto& old_backend = where.begin()->first;
    const auto& new_backend = after.at(room).begin()->first;
    if (old_backend != "b0") {
      EXPECT_EQ(new_backend, old_backend) << "room " << room << " moved although its backend stayed";
    }
    EXPECT_NE(new_backend, "b0");
  }
}

TEST_F(SteeringE2E, StickyCookieSendsAReturningClientHome) {
  const auto secret = dir_.path() / "secret";
  std::ofstream(secret) << "0123456789abcdef0123456789abcdef\n";
  auto& agent = start_agent({"--sticky-cookie", "wsteer", "--cookie-secret-file", secret.string()});
  client(60s, [&]() -> awaitable<void> {
    auto first = co_await connect_ws(agent.host(), AgentUnderTest::kPort);
    EXPECT_FALSE(first.set_cookie.empty()) << "no Set-Cookie on the 101";
    if (first.set_cookie.empty()) co_return;
    const auto cookie = first.set_cookie.substr(0, first.set_cookie.find(';'));
    co_await first.ws->async_close(websocket::close_code::normal, use_awaitable);
    std::map<std::string, int> with_cookie, forged;
    Headers good, bad;
    good.emplace_back("Cookie", cookie);
    bad.emplace_back("Cookie", cookie + "x");
    for (int i = 0; i < 30; ++i) {
      auto c = co_await connect_ws(agent.host(), AgentUnderTest::kPort, "/", good);
      with_cookie[c.backend]++;
      co_await c.ws->async_close(websocket::close_code::normal, use_awaitable);
      auto f = co_await connect_ws(agent.host(), AgentUnderTest::kPort, "/", bad);
      forged[f.backend]++;
      co_await f.ws->async_close(websocket::close_code::normal, use_awaitable);
    }
    EXPECT_EQ(with_cookie.size(), 1u);
    EXPECT_EQ(with_cookie.begin()->first, first.backend) << "the cookie did not send the client home";
    EXPECT_GT(forged.size(), 1u) << "a forged cookie must be ignored (hash as usual)";
  });
}

TEST_F(SteeringE2E, DrainedBackendGetsNoNewConnectionsAndKeepsItsOpenOnes) {
  auto& agent = start_agent({});
  client(60s, [&]() -> awaitable<void> {
    std::vector<Connected> on_b0;
    for (int i = 0; i < 300 && on_b0.size() < 3; ++i) {
      auto c = co_await connect_ws(agent.host(), AgentUnderTest::kPort);
      if (c.backend == "b0") on_b0.push_back(std::move(c));
    }
    EXPECT_FALSE(on_b0.empty());
    agent.write_endpoints("b0 10.77.10.2:9000 drain\nb1 10.77.11.2:9000\nb2 10.77.12.2:9000\n");
    co_await sleep_for(800ms);
    for (int i = 0; i < 60; ++i) {
      auto c = co_await connect_ws(agent.host(), AgentUnderTest::kPort);
      EXPECT_NE(c.backend, "b0") << "a draining backend got a new connection";
    }
    for (auto& c : on_b0) EXPECT_EQ(co_await round_trip(*c.ws, "draining"), "draining");
  });
}

TEST_F(SteeringE2E, TwoAgentsMapEveryKeyToTheSameBackend) {
  run("ip -n " + topology_->agent_ns() + " addr add 10.77.1.3/24 dev vc");
  auto& one = start_agent({"--hash-key", "query:room"});
  auto& two = start_agent({"--hash-key", "query:room"}, "10.77.1.3");
  const auto a = place_rooms(one, 100, 1);
  const auto b = place_rooms(two, 100, 1);
  for (int r = 0; r < 100; ++r) EXPECT_EQ(a.at(r).begin()->first, b.at(r).begin()->first) << "room " << r;
}

}  // namespace
}  // namespace wsteer::test
