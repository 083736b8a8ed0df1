// End to end, with the real agent and the real BPF programs: client, agent and three backends in
// network namespaces of their own, Boost.Beast clients and echo servers. Every test runs once
// with the splice datapath and once with the userspace datapath.
#include "harness/agent_under_test.h"
#include "harness/netns.h"
#include "demo/pattern.h"
#include "harness/privileges.h"
#include "harness/ws_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <iostream>
#include <map>
#include <thread>

namespace wsteer::test {
namespace {

using demo::Pattern;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using namespace std::chrono_literals;
using asio::awaitable;
using asio::use_awaitable;

// Printable bytes for text frames (Beast checks that text is UTF-8).
std::string text_payload(std::size_t n, std::uint64_t seed) {
  std::string s = Pattern(seed).next(n);
  for (auto& c : s) c = static_cast<char>('a' + static_cast<unsigned char>(c) % 26);
  return s;
}

awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(use_awaitable);
}

class SpliceE2E : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    WSTEER_REQUIRE_PRIVILEGED();
    start(3, false);
  }

  void start(int backends, bool first_frame) {
    agent_.reset();
    backends_.reset();
    topology_ = std::make_unique<Topology>(backends);
    backends_ = std::make_unique<Backends>(*topology_, dir_, first_frame);
    agent_ = std::make_unique<AgentUnderTest>(*topology_, dir_, backends_->endpoints(), GetParam(),
                                              std::vector<std::string>{"--handshake-timeout", "2"});
  }

  void TearDown() override {
    if (HasFailure() && agent_) std::cerr << "---- agent log ----\n" << agent_->process().log();
    agent_.reset();
    backends_.reset();
    topology_.reset();
  }

  bool splice() const { return GetParam() == "splice"; }
  const std::string& host() const { return agent_->host(); }
  static constexpr unsigned short port = AgentUnderTest::kPort;

  void client(std::chrono::milliseconds limit, const std::function<awaitable<void>()>& task) {
    run_in_netns(topology_->client_ns(), limit, task);
  }

  // Waits (bounded) until the agent reports no open connection.
  void expect_connections_drain() {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (metric_sum(agent_->metrics(), "wsteer_connections_active") != 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(50ms);
    EXPECT_EQ(metric_sum(agent_->metrics(), "wsteer_connections_active"), 0);
  }

  TempDir dir_;
  std::unique_ptr<Topology> topology_;
  std::unique_ptr<Backends> backends_;
  std::unique_ptr<AgentUnderTest> agent_;
};

TEST_P(SpliceE2E, EchoesTextAndBinaryFromZeroTo16MiB) {
  client(120s, [&]() -> awaitable<void> {
    auto c = co_await connect_ws(host(), port);
    for (std::size_t size : {0u, 1u, 125u, 126u, 65535u, 65536u, 1u << 20, 16u << 20}) {
      for (bool binary : {false, true}) {
        const auto msg = binary ? Pattern(size).next(size) : text_payload(size, size + 1);
        const auto echo = co_await round_trip(*c.ws, msg, binary);
        EXPECT_EQ(echo.size(), size) << (binary ? "binary" : "text");
        EXPECT_TRUE(echo == msg) << size << (binary ? " binary" : " text") << " bytes came back changed";
      }
    }
    co_await c.ws->async_close(websocket::close_code::normal, use_awaitable);
  });
}

TEST_P(SpliceE2E, ThousandConcurrentConnectionsEveryByteChecked) {
  constexpr int kClients = 1000;
  int connected = 0, verified = 0;
  std::map<std::string, int> per_backend;
  client(120s, [&]() -> awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    for (int i = 0; i < kClients; ++i) {
      asio::co_spawn(executor, [&, i]() -> awaitable<void> {
        auto c = co_await connect_ws(host(), port);
        ++connected;
        per_backend[c.backend]++;
        while (connected < kClients) co_await sleep_for(10ms);  // all open at once
        bool all_ok = true;
        for (int m = 0; m < 3; ++m) {
          const auto msg = Pattern(i * 10 + m).next(1000 + m);
          all_ok &= (co_await round_trip(*c.ws, msg, true)) == msg;
        }
        verified += all_ok;
        co_await c.ws->async_close(websocket::close_code::normal, use_awaitable);
      }, asio::detached);
    }
    while (verified < kClients) co_await sleep_for(20ms);
  });
  EXPECT_EQ(connected, kClients);
  EXPECT_EQ(verified, kClients);
  EXPECT_EQ(per_backend.size(), 3u) << "connections should spread over all backends";
  expect_connections_drain();
}

TEST_P(SpliceE2E, FrameSentWithThe101ArrivesFirstAndIntact) {
  start(1, /*first_frame=*/true);
  for (int attempt = 0; attempt < 20; ++attempt) {
    client(10s, [&]() -> awaitable<void> {
      auto c = co_await connect_ws(host(), port);
      beast::flat_buffer buffer;
      co_await c.ws->async_read(buffer, use_awaitable);
      EXPECT_EQ(beast::buffers_to_string(buffer.data()), "first");
      EXPECT_TRUE(c.ws->got_text());
    });
  }
}

// A backend that streams right behind its 101: the agent's handshake read stops inside an skb,
// and the verdict (which takes whole skbs) must not send that skb's first part again.
TEST_P(SpliceE2E, BackendStreamingRightAfterThe101ArrivesIntact) {
  constexpr std::size_t kBytes = 8u << 20;
  constexpr int kClients = 20;
  int intact = 0;
  client(120s, [&]() -> awaitable<void> {
    auto exec = co_await asio::this_coro::executor;
    int done = 0;
    for (int i = 0; i < kClients; ++i)
      asio::co_spawn(
          exec,
          [&]() -> awaitable<void> {
            auto c = co_await connect_ws(host(), port, "/source/" + std::to_string(kBytes));
            Pattern expected(kBytes);
            std::size_t received = 0;
            bool same = true;
            beast::flat_buffer buffer;
            while (received < kBytes) {
              co_await c.ws->async_read(buffer, use_awaitable);
              const auto got = beast::buffers_to_string(buffer.data());
              buffer.consume(buffer.size());
              same &= got == expected.next(got.size());
              received += got.size();
            }
            intact += same && received == kBytes;
            co_await c.ws->async_close(websocket::close_code::normal, use_awaitable);
            ++done;
          },
          [&](std::exception_ptr e) {
            if (e) ++done;
          });
    while (done < kClients) co_await sleep_for(20ms);
  });
  EXPECT_EQ(intact, kClients) << "streams corrupted or cut";
}

TEST_P(SpliceE2E, CloseCodeAndReasonTravelBothWays) {
  client(10s, [&]() -> awaitable<void> {
    auto c = co_await connect_ws(host(), port);
    co_await c.ws->async_close(websocket::close_reason(static_cast<websocket::close_code>(4001), "bye client"), use_awaitable);
  });
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  auto seen = [&] {
    for (int i = 0; i < 3; ++i)
      if (backends_->process(i).log().find("client-closed 4001 bye client") != std::string::npos) return true;
    return false;
  };
  while (!seen() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(seen()) << "the backend never saw the client's close code and reason";

  client(10s, [&]() -> awaitable<void> {
    auto c = co_await connect_ws(host(), port);
    c.ws->text(true);
    co_await c.ws->async_write(asio::buffer(std::string("close 4002 bye server")), use_awaitable);
    beast::flat_buffer buffer;
    auto [ec, n] = co_await c.ws->async_read(buffer, asio::as_tuple(use_awaitable));
    EXPECT_EQ(ec, websocket::error::closed);
    EXPECT_EQ(c.ws->reason().code, 4002);
    EXPECT_EQ(c.ws->reason().reason, "bye server");
  });
}

TEST_P(SpliceE2E, KilledBackendClosesItsClientsWithinOneSecond) {
  client(20s, [&]() -> awaitable<void> {
    std::vector<Connected> on_b0, others;
    for (int i = 0; i < 300 && on_b0.size() < 3; ++i) {
      auto c = co_await connect_ws(host(), port);
      (c.backend == "b0" ? on_b0 : others).push_back(std::move(c));
    }
    EXPECT_FALSE(on_b0.empty()) << "no connection landed on b0; others: " << others.size() << " first: "
                                << (others.empty() ? "" : others.front().backend);
    // Mid-stream: each b0 client has a large transfer going when its backend dies.
    for (auto& c : on_b0) {
      c.ws->text(true);
      co_await c.ws->async_write(asio::buffer(std::string("stream 200000000")), use_awaitable);
    }
    const auto killed = std::chrono::steady_clock::now();
    backends_->process(0).signal(SIGKILL);
    for (auto& c : on_b0) {
      beast::flat_buffer buffer;
      for (;;) {  // drain what was in flight until the close arrives
        auto [ec, n] = co_await c.ws->async_read(buffer, asio::as_tuple(use_awaitable));
        buffer.consume(buffer.size());
        if (ec) break;
      }
      const auto waited = std::chrono::steady_clock::now() - killed;
      EXPECT_LT(waited, 1s) << "client noticed its backend's death after "
                            << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count() << " ms";
    }
    for (auto& c : others) EXPECT_EQ(co_await round_trip(*c.ws, "still here"), "still here");
  });
}

TEST_P(SpliceE2E, SlowReaderGets256MiBWhole) {
  constexpr std::size_t kTotal = 256u << 20;
  client(180s, [&]() -> awaitable<void> {
    auto c = co_await connect_ws(host(), port);
    c.ws->text(true);
    co_await c.ws->async_write(asio::buffer("stream " + std::to_string(kTotal)), use_awaitable);
    Pattern expected(kTotal);
    std::size_t received = 0;
    bool intact = true;
    beast::flat_buffer buffer;
    while (received < kTotal) {
      co_await c.ws->async_read(buffer, use_awaitable);
      const auto got = beast::buffers_to_string(buffer.data());
      buffer.consume(buffer.size());
      intact &= got == expected.next(got.size());
      received += got.size();
      co_await sleep_for(8ms);  // a reader slower than the sender: ~100 MB/s at most
    }
    EXPECT_EQ(received, kTotal);
    EXPECT_TRUE(intact) << "bytes changed or reordered on the way";
    co_await c.ws->async_close(websocket::close_code::normal, use_awaitable);
  });
}

TEST_P(SpliceE2E, MetricsCountPayloadInTheKernelAndHandshakesInUserspace) {
  // Under the default --splice-buffer-limit (4 MiB): the client writes all of it before reading
  // the echo, so a larger message would make it a slow reader and bring in backpressure.
  constexpr std::size_t kPayload = 3u << 20;
  const auto before = agent_->metrics();
  client(60s, [&]() -> awaitable<void> {
    auto c = co_await connect_ws(host(), port);
    const auto msg = Pattern(7).next(kPayload);
    EXPECT_TRUE((co_await round_trip(*c.ws, msg, true)) == msg);
    co_await c.ws->async_close(websocket::close_code::normal, use_awaitable);
  });
  expect_connections_drain();
  const auto after = agent_->metrics();
  const auto delta = [&](const std::string& name) { return metric_sum(after, name) - metric_sum(before, name); };
  const double userspace = delta("wsteer_userspace_bytes_total");
  const double c2b = after.at("wsteer_spliced_bytes_total{direction=\"client_to_backend\"}") -
                     before.at("wsteer_spliced_bytes_total{direction=\"client_to_backend\"}");
  const double b2c = after.at("wsteer_spliced_bytes_total{direction=\"backend_to_client\"}") -
                     before.at("wsteer_spliced_bytes_total{direction=\"backend_to_client\"}");
  if (splice()) {
    EXPECT_LT(userspace, 4096) << "only the handshake may pass through the agent";
    EXPECT_GE(c2b, kPayload);
    EXPECT_GE(b2c, kPayload);
  } else {
    EXPECT_GE(userspace, 2.0 * kPayload);
    EXPECT_EQ(c2b + b2c, 0);
  }
  EXPECT_GE(delta("wsteer_connections_total"), 1);
  EXPECT_GE(metric_sum(after, "wsteer_handshake_seconds_count") - metric_sum(before, "wsteer_handshake_seconds_count"), 1);
}

TEST_P(SpliceE2E, BadHandshakesGetTheRightStatus) {
  const std::string key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
  const std::string upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
  auto ask = [&](const std::string& request) {
    return http_exchange(topology_->client_ns(), host(), port, request, 5s);
  };
  EXPECT_EQ(ask("GET / HTTP/1.1\r\nHost: x\r\n" + upgrade + "Sec-WebSocket-Version: 13\r\n\r\n").status, 400);
  const auto v8 = ask("GET / HTTP/1.1\r\nHost: x\r\n" + upgrade + key + "Sec-WebSocket-Version: 8\r\n\r\n");
  EXPECT_EQ(v8.status, 426);
  EXPECT_EQ(v8.header("Sec-WebSocket-Version"), "13");
  EXPECT_EQ(ask("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20 * 1024, 'a') + "\r\n" + upgrade + key +
                "Sec-WebSocket-Version: 13\r\n\r\n").status, 431);
  EXPECT_EQ(ask("GET /index.html HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n\r\n").status, 400);
  // Without Upgrade it is plain HTTP (docs/http.md): proxied, and the echo backend has no such page.
  const auto plain = ask("GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(plain.status, 404);
  EXPECT_FALSE(plain.header("X-Wsteer-Backend").empty());

  // Slowloris: half a request, then nothing. The agent (--handshake-timeout 2) closes it.
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(ask("GET / HTTP/1.1\r\nHost: x\r\n").status, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);

  for (int i = 0; i < 3; ++i) backends_->process(i).signal(SIGKILL);
  for (int i = 0; i < 3; ++i) backends_->process(i).wait_exit(5s);
  EXPECT_EQ(ask("GET / HTTP/1.1\r\nHost: x\r\n" + upgrade + key + "Sec-WebSocket-Version: 13\r\n\r\n").status, 502);
}

TEST_P(SpliceE2E, BackendRefusalIsRelayedAndBothSidesClosed) {
  const auto reply = http_exchange(topology_->client_ns(), host(), port,
                                   "GET /reject HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  EXPECT_EQ(reply.status, 403);
  EXPECT_EQ(reply.body, "no entry\n");
  EXPECT_EQ(agent_->metrics().at("wsteer_connections_total{reason=\"4xx\",result=\"backend_rejected\"}"), 1);
  expect_connections_drain();
}

TEST_P(SpliceE2E, RefusedBackendFallsBackToTheNextOne) {
  backends_->process(0).signal(SIGKILL);  // still listed, nothing listens
  backends_->process(0).wait_exit(5s);
  std::map<std::string, int> per_backend;
  client(60s, [&]() -> awaitable<void> {
    for (int i = 0; i < 30; ++i) {
      auto c = co_await connect_ws(host(), port);
      per_backend[c.backend]++;
      EXPECT_EQ(co_await round_trip(*c.ws, "ok"), "ok");
    }
  });
  EXPECT_EQ(per_backend.count("b0"), 0u);
  EXPECT_EQ(per_backend["b1"] + per_backend["b2"], 30);
  EXPECT_GE(metric_sum(agent_->metrics(), "wsteer_backend_connect_failures_total"), 1);
}

TEST_P(SpliceE2E, TenThousandConnectionsLeaveNothingBehind) {
  constexpr int kTotal = 10000, kBatch = 200;
  // Warm up so lazily created descriptors (epoll, timers) are already counted.
  client(10s, [&]() -> awaitable<void> {
    auto c = co_await connect_ws(host(), port);
    co_await c.ws->async_close(websocket::close_code::normal, use_awaitable);
  });
  expect_connections_drain();
  const auto fds_before = agent_->process().open_fds();
  int ok = 0;
  client(300s, [&]() -> awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    for (int start = 0; start < kTotal; start += kBatch) {
      int done = 0;
      for (int i = start; i < start + kBatch; ++i) {
        asio::co_spawn(executor, [&, i]() -> awaitable<void> {
          auto c = co_await connect_ws(host(), port);
          const auto msg = "hello " + std::to_string(i);
          ok += (co_await round_trip(*c.ws, msg)) == msg;
          co_await c.ws->async_close(websocket::close_code::normal, use_awaitable);
        }, [&](std::exception_ptr) { ++done; });
      }
      while (done < kBatch) co_await sleep_for(5ms);
    }
  });
  EXPECT_EQ(ok, kTotal);
  expect_connections_drain();
  EXPECT_LE(agent_->process().open_fds(), fds_before + 2) << "descriptors leaked";
  if (splice()) {
    EXPECT_EQ(agent_->flow_map_entries(), 0u) << "flows left in the BPF map";
  }
  EXPECT_EQ(metric_sum(agent_->metrics(), "wsteer_backend_active_connections"), 0);
}

TEST_P(SpliceE2E, EndpointsChangeLeavesEstablishedFlowsAlone) {
  client(30s, [&]() -> awaitable<void> {
    std::vector<Connected> open;
    for (int i = 0; i < 12; ++i) open.push_back(co_await connect_ws(host(), port));
    // b0 leaves the list; a malformed edit after it must not change anything either.
    agent_->write_endpoints("b1 10.77.11.2:9000\nb2 10.77.12.2:9000\n");
    co_await sleep_for(700ms);
    agent_->write_endpoints("b1 10.77.11.2:9000\nthis is not an endpoint\n");
    co_await sleep_for(700ms);
    for (auto& c : open) EXPECT_EQ(co_await round_trip(*c.ws, "still " + c.backend), "still " + c.backend);
    for (int i = 0; i < 20; ++i) {
      auto c = co_await connect_ws(host(), port);
      EXPECT_NE(c.backend, "b0") << "a backend that left the list got a new connection";
      EXPECT_EQ(co_await round_trip(*c.ws, "new"), "new");
    }
  });
  const auto m = agent_->metrics();
  EXPECT_GE(m.at("wsteer_endpoints_reloads_total{service=\"default\",result=\"error\"}"), 1);
}

TEST_P(SpliceE2E, SigtermStopsAcceptingKeepsFlowsThenCleansUp) {
  client(30s, [&]() -> awaitable<void> {
    auto c = co_await connect_ws(host(), port);
    agent_->process().signal(SIGTERM);
    co_await sleep_for(300ms);
    bool refused = false;
    try {
      co_await connect_ws(host(), port);
    } catch (const std::exception&) {
      refused = true;
    }
    EXPECT_TRUE(refused) << "a stopping agent still accepted a connection";
    EXPECT_EQ(co_await round_trip(*c.ws, "after sigterm"), "after sigterm");
    co_await c.ws->async_close(websocket::close_code::normal, use_awaitable);
  });
  EXPECT_EQ(agent_->process().wait_exit(5s), 0) << "the agent should exit 0 once its last flow ended";
  EXPECT_FALSE(std::filesystem::exists(agent_->bpffs())) << "pinned maps left behind";
}

INSTANTIATE_TEST_SUITE_P(Datapaths, SpliceE2E, ::testing::Values("splice", "userspace"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace wsteer::test
