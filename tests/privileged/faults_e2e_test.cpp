// The fault suite (issue 14): a backend killed, the agent killed, endpoints churning under load.
// Each checks that the flows which should survive lose or reorder no byte (every message is a
// Pattern the client checks) and that nothing leaks: agent descriptors, wsteer_flows entries,
// sockhash entries. Real agent, real verdict, echo backends as processes.
#include "harness/agent_under_test.h"
#include "harness/netns.h"
#include "datapath/map_keys.h"
#include "datapath/map_names.h"
#include "wsteer_abi.h"
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
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <unistd.h>

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
constexpr auto kTuple = asio::as_tuple(use_awaitable);

awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(use_awaitable);
}

// Entries of a map pinned in `bpffs` (a sockhash too), or -1 when the pin is gone.
long pinned_entries(const std::filesystem::path& bpffs, const char* name) {
  const int fd = bpf_obj_get((bpffs / name).c_str());
  if (fd < 0) return -1;
  const auto n = static_cast<long>(datapath::count_map_keys(fd));
  ::close(fd);
  return n;
}

// Programs attached to the pinned wsteer_spliced as its verdict, or -1 when the pin is gone.
long attached_verdicts(const std::filesystem::path& bpffs) {
  const int fd = bpf_obj_get((bpffs / datapath::map_names::spliced).c_str());
  if (fd < 0) return -1;
  __u32 ids[4] = {}, count = 4, flags = 0;
  const int err = bpf_prog_query(fd, BPF_SK_SKB_VERDICT, 0, &flags, ids, &count);
  ::close(fd);
  return err ? -1 : static_cast<long>(count);
}

// wsteer_connections_total{result="unavailable",reason=`reason`}, whatever the label order.
double unavailable(const std::map<std::string, double>& metrics, const std::string& reason) {
  double sum = 0;
  for (const auto& [key, value] : metrics)
    if (key.rfind("wsteer_connections_total{", 0) == 0 && key.find("result=\"unavailable\"") != std::string::npos &&
        key.find("reason=\"" + reason + "\"") != std::string::npos)
      sum += value;
  return sum;
}

// A flow echoing Pattern messages back to back until `stop`, checking each one: what a surviving
// flow must keep doing through a fault.
struct EchoLoad {
  std::size_t messages = 0;
  std::size_t bad = 0;     // echoes that differ (a byte lost, changed or reordered)
  std::string error;       // why it stopped early, if it did
  bool done = false;
};

awaitable<void> echo_until(Ws& ws, std::uint64_t seed, const bool& stop, EchoLoad& load) {
  Pattern pattern(seed);
  ws.binary(true);
  beast::flat_buffer in;
  while (!stop) {
    const auto msg = pattern.next(16 * 1024);
    auto [wec, wn] = co_await ws.async_write(asio::buffer(msg), kTuple);
    if (wec) {
      load.error = "write: " + wec.message();
      break;
    }
    auto [rec, rn] = co_await ws.async_read(in, kTuple);
    if (rec) {
      load.error = "read: " + rec.message();
      break;
    }
    load.bad += beast::buffers_to_string(in.data()) != msg;
    in.consume(in.size());
    ++load.messages;
  }
  load.done = true;
}

class FaultsE2E : public ::testing::Test {
 protected:
  void SetUp() override { WSTEER_REQUIRE_PRIVILEGED(); }
  void start(int backends, const std::vector<std::string>& args = {}) {
    topology_ = std::make_unique<Topology>(backends);
    backends_ = std::make_unique<Backends>(*topology_, dir_);
    agent_ = std::make_unique<AgentUnderTest>(*topology_, dir_, backends_->endpoints(), "splice", args);
  }
  void TearDown() override {
    if (HasFailure() && agent_) std::cerr << "---- agent log ----\n" << agent_->process().log();
    agent_.reset();
    backends_.reset();
    topology_.reset();
  }
  void client(std::chrono::milliseconds limit, const std::function<awaitable<void>()>& task) {
    run_in_netns(io_, topology_->client_ns(), limit, task);
  }
  // One connection opened and closed, so descriptors the agent makes lazily are counted in a
  // baseline taken after it.
  std::size_t fd_baseline() {
    client(10s, [&]() -> awaitable<void> {
      auto c = co_await connect_ws(agent_->host(), AgentUnderTest::kPort);
      co_await c.ws->async_close(websocket::close_code::normal, use_awaitable);
    });
    wait_for([&] { return metric_sum(agent_->metrics(), "wsteer_connections_active") == 0; }, 5s);
    return agent_->process().open_fds();
  }
  static bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(20ms);
    }
    return true;
  }

  asio::io_context io_;  // connections made in one client() call live on into the next
  TempDir dir_;
  std::unique_ptr<Topology> topology_;
  std::unique_ptr<Backends> backends_;
  std::unique_ptr<AgentUnderTest> agent_;
};

// A backend killed mid-stream: its clients see their connections end within a second; flows to
// the other backends keep echoing every byte; the dead flows leave the maps and the agent's
// descriptors.
TEST_F(FaultsE2E, BackendSigkillEndsOnlyItsFlows) {
  start(3);
  const auto fds_before = fd_baseline();
  std::vector<Connected> on_b0, others;
  client(20s, [&]() -> awaitable<void> {
    for (int i = 0; i < 300 && (on_b0.size() < 5 || others.size() < 10); ++i) {
      auto c = co_await connect_ws(agent_->host(), AgentUnderTest::kPort);
      if (c.backend == "b0" && on_b0.size() < 5) on_b0.push_back(std::move(c));
      else if (c.backend != "b0" && others.size() < 10) others.push_back(std::move(c));
      else co_await c.ws->async_close(websocket::close_code::normal, use_awaitable);
    }
  });
  ASSERT_EQ(on_b0.size(), 5u);
  ASSERT_EQ(others.size(), 10u);
  // The extra connections closed above may still be leaving the maps.
  EXPECT_TRUE(wait_for([&] { return agent_->flow_map_entries() == 2u * 15; }, 3s)) << agent_->flow_map_entries();

  bool stop = false;
  std::vector<EchoLoad> loads(others.size());
  std::vector<long long> ended_ms(on_b0.size(), -1);
  client(20s, [&]() -> awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    for (std::size_t i = 0; i < others.size(); ++i)
      asio::co_spawn(executor, echo_until(*others[i].ws, 100 + i, stop, loads[i]), asio::detached);
    for (auto& c : on_b0) {  // mid-stream when it dies
      c.ws->text(true);
      co_await c.ws->async_write(asio::buffer(std::string("stream 200000000")), use_awaitable);
    }
    co_await sleep_for(300ms);
    const auto killed = std::chrono::steady_clock::now();
    backends_->process(0).signal(SIGKILL);
    for (std::size_t i = 0; i < on_b0.size(); ++i) {
      beast::flat_buffer buffer;
      for (;;) {
        auto [ec, n] = co_await on_b0[i].ws->async_read(buffer, kTuple);
        buffer.consume(buffer.size());
        if (ec) break;
      }
      ended_ms[i] = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killed).count();
    }
    co_await sleep_for(1s);  // the survivors go on after the dead flows are gone
    stop = true;
    for (auto& l : loads)
      while (!l.done) co_await sleep_for(5ms);
  });
  for (std::size_t i = 0; i < on_b0.size(); ++i) EXPECT_LT(ended_ms[i], 1000) << "b0 client " << i;
  for (std::size_t i = 0; i < loads.size(); ++i) {
    EXPECT_EQ(loads[i].error, "") << "surviving flow " << i << " on " << others[i].backend;
    EXPECT_EQ(loads[i].bad, 0u) << "surviving flow " << i;
    EXPECT_GT(loads[i].messages, 10u) << "surviving flow " << i;
  }
  on_b0.clear();
  // Only the survivors' two sockets each stay in the maps.
  EXPECT_TRUE(wait_for([&] { return agent_->flow_map_entries() == 2u * others.size(); }, 2s))
      << agent_->flow_map_entries() << " wsteer_flows entries";
  EXPECT_EQ(pinned_entries(agent_->bpffs(), datapath::map_names::spliced), static_cast<long>(2 * others.size()));
  client(10s, [&]() -> awaitable<void> {
    for (auto& c : others) co_await c.ws->async_close(websocket::close_code::normal, use_awaitable);
  });
  others.clear();
  EXPECT_TRUE(wait_for([&] { return agent_->flow_map_entries() == 0; }, 3s)) << agent_->flow_map_entries();
  EXPECT_TRUE(wait_for([&] { return agent_->process().open_fds() <= fds_before + 2; }, 3s))
      << agent_->process().open_fds() << " descriptors, " << fds_before << " before";
  EXPECT_EQ(metric_sum(agent_->metrics(), "wsteer_connections_active"), 0);
}

// The agent killed (SIGKILL: no shutdown). What the docs say survives, exactly:
//  - no flow: the agent held both descriptors of every flow, the kernel closes them, so every
//    client sees its connection end at once (the sockhashes empty themselves);
//  - the pins: wsteer_* stay in --bpffs with the verdict attached to wsteer_spliced, and
//    wsteer_flows keeps the dead flows' entries (nothing removed them);
//  - a restarted agent on the same --bpffs replaces the stale pins (empty maps) and serves.
TEST_F(FaultsE2E, AgentSigkillEndsItsFlowsLeavesPinsThatARestartReplaces) {
  start(2);
  std::vector<Connected> open;
  client(20s, [&]() -> awaitable<void> {
    for (int i = 0; i < 10; ++i) open.push_back(co_await connect_ws(agent_->host(), AgentUnderTest::kPort));
    for (std::size_t i = 0; i < open.size(); ++i) {
      const auto msg = Pattern(i).next(1000);
      EXPECT_EQ(co_await round_trip(*open[i].ws, msg, true), msg);
    }
  });
  const auto killed = std::chrono::steady_clock::now();
  agent_->process().signal(SIGKILL);
  ASSERT_TRUE(agent_->process().wait_exit(5s).has_value());
  int ended = 0;
  client(10s, [&]() -> awaitable<void> {
    for (auto& c : open) {
      beast::flat_buffer buffer;
      auto [ec, n] = co_await c.ws->async_read(buffer, kTuple);
      ended += ec ? 1 : 0;
    }
  });
  EXPECT_EQ(ended, 10);
  EXPECT_LT(std::chrono::steady_clock::now() - killed, 3s);
  open.clear();

  EXPECT_EQ(pinned_entries(agent_->bpffs(), datapath::map_names::flows), 20) << "stale entries of the 10 dead flows";
  EXPECT_EQ(pinned_entries(agent_->bpffs(), datapath::map_names::spliced), 0);
  EXPECT_EQ(pinned_entries(agent_->bpffs(), datapath::map_names::targets), 0);
  EXPECT_EQ(attached_verdicts(agent_->bpffs()), 1) << "the verdict stays attached to the pinned sockhash";

  agent_->restart();
  EXPECT_NE(agent_->process().log().find("removing stale pin"), std::string::npos);
  EXPECT_EQ(pinned_entries(agent_->bpffs(), datapath::map_names::flows), 0);
  EXPECT_EQ(attached_verdicts(agent_->bpffs()), 1);
  client(10s, [&]() -> awaitable<void> {
    auto c = co_await connect_ws(agent_->host(), AgentUnderTest::kPort);
    const auto msg = Pattern(7).next(100000);
    EXPECT_EQ(co_await round_trip(*c.ws, msg, true), msg);
    EXPECT_EQ(agent_->flow_map_entries(), 2u);
    co_await c.ws->async_close(websocket::close_code::normal, use_awaitable);
  });
}

// Backends added, drained and removed every 100 ms while flows stream and new clients arrive:
// the agent does not crash, every established flow keeps every byte (its backend process lives
// on, listed or not), and new connections keep succeeding.
TEST_F(FaultsE2E, EndpointChurnUnderLoad) {
  start(3);
  const auto fds_before = fd_baseline();
  std::vector<Connected> streaming;
  client(20s, [&]() -> awaitable<void> {
    for (int i = 0; i < 30; ++i) streaming.push_back(co_await connect_ws(agent_->host(), AgentUnderTest::kPort));
  });
  const std::vector<std::string> lists = {
      "b0 10.77.10.2:9000\nb1 10.77.11.2:9000\nb2 10.77.12.2:9000\n",
      "b0 10.77.10.2:9000\nb1 10.77.11.2:9000 drain\nb2 10.77.12.2:9000\n",
      "b0 10.77.10.2:9000\nb2 10.77.12.2:9000\n",
      "b0 10.77.10.2:9000\nb2 10.77.12.2:9000 drain\n",
      "b0 10.77.10.2:9000\n",
      "b0 10.77.10.2:9000\nb1 10.77.11.2:9000\n",
  };
  bool stop = false;
  std::thread churn([&] {
    for (std::size_t i = 0; !stop; ++i) {
      agent_->write_endpoints(lists[i % lists.size()]);
      std::this_thread::sleep_for(100ms);
    }
  });
  std::vector<EchoLoad> loads(streaming.size());
  int new_ok = 0, new_failed = 0;
  std::string new_error;
  try {
    client(30s, [&]() -> awaitable<void> {
      auto executor = co_await asio::this_coro::executor;
      for (std::size_t i = 0; i < streaming.size(); ++i)
        asio::co_spawn(executor, echo_until(*streaming[i].ws, 1000 + i, stop, loads[i]), asio::detached);
      const auto end = std::chrono::steady_clock::now() + 10s;
      for (int i = 0; std::chrono::steady_clock::now() < end; ++i) {
        try {
          auto c = co_await connect_ws(agent_->host(), AgentUnderTest::kPort);
          const auto msg = Pattern(5000 + i).next(2000);
          if (co_await round_trip(*c.ws, msg, true) == msg) ++new_ok; else ++new_failed;
          co_await c.ws->async_close(websocket::close_code::normal, use_awaitable);
        } catch (const std::exception& e) {
          ++new_failed;
          new_error = e.what();
        }
        co_await sleep_for(20ms);
      }
      stop = true;
      for (auto& l : loads)
        while (!l.done) co_await sleep_for(5ms);
    });
  } catch (...) {
    stop = true;
    churn.join();
    throw;
  }
  stop = true;
  churn.join();
  EXPECT_FALSE(agent_->process().wait_exit(0ms).has_value()) << "the agent died";
  for (std::size_t i = 0; i < loads.size(); ++i) {
    EXPECT_EQ(loads[i].error, "") << "flow " << i << " on " << streaming[i].backend;
    EXPECT_EQ(loads[i].bad, 0u) << "flow " << i;
    EXPECT_GT(loads[i].messages, 20u) << "flow " << i;
  }
  EXPECT_GT(new_ok, 100);
  EXPECT_EQ(new_failed, 0) << new_error;
  const auto m = agent_->metrics();
  EXPECT_GE(metric_sum(m, "wsteer_endpoints_reloads_total"), 20) << "the churn did not reach the agent";
  client(10s, [&]() -> awaitable<void> {
    for (auto& c : streaming) co_await c.ws->async_close(websocket::close_code::normal, use_awaitable);
  });
  streaming.clear();
  EXPECT_TRUE(wait_for([&] { return agent_->flow_map_entries() == 0; }, 3s)) << agent_->flow_map_entries();
  EXPECT_TRUE(wait_for([&] { return agent_->process().open_fds() <= fds_before + 2; }, 3s))
      << agent_->process().open_fds() << " descriptors, " << fds_before << " before";
}

// A client that vanishes without a FIN (its link goes down: nothing it sent or would answer
// arrives any more). With keepalive 1 s idle, 1 s interval, 2 probes and a 3 s user timeout,
// the agent's idle flows end after about 3 s (keepalive) and the flows it was streaming to after
// about 3 s of unacknowledged bytes (TCP_USER_TIMEOUT): both sockets closed, the maps emptied,
// the descriptors back to the baseline.
TEST_F(FaultsE2E, ClientVanishingWithoutFinEndsItsFlowsWithinTheTimeouts) {
  start(1, {"--tcp-keepalive-idle", "1", "--tcp-keepalive-interval", "1", "--tcp-keepalive-count", "2",
            "--tcp-user-timeout", "3"});
  const auto fds_before = fd_baseline();
  std::vector<Connected> open;
  client(20s, [&]() -> awaitable<void> {
    for (int i = 0; i < 6; ++i) open.push_back(co_await connect_ws(agent_->host(), AgentUnderTest::kPort));
    for (int i = 0; i < 2; ++i) {  // two flows with the backend streaming to the client
      open[i].ws->text(true);
      co_await open[i].ws->async_write(asio::buffer(std::string("stream 500000000")), use_awaitable);
      beast::flat_buffer in;
      co_await open[i].ws->async_read(in, use_awaitable);
    }
  });
  ASSERT_EQ(agent_->flow_map_entries(), 12u);
  const auto vanished = std::chrono::steady_clock::now();
  run("ip -n " + topology_->client_ns() + " link set vc down");
  const bool ended = wait_for([&] { return agent_->flow_map_entries() == 0; }, 15s);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - vanished);
  std::cerr << "flows of the vanished client ended after " << took.count() << " ms\n";
  EXPECT_TRUE(ended) << agent_->flow_map_entries() << " wsteer_flows entries left";
  EXPECT_GE(took, 2500ms) << "ended before keepalive could have given up";
  EXPECT_LT(took, 8s);
  EXPECT_EQ(metric_sum(agent_->metrics(), "wsteer_connections_active"), 0);
  EXPECT_TRUE(wait_for([&] { return agent_->process().open_fds() <= fds_before + 2; }, 3s))
      << agent_->process().open_fds() << " descriptors, " << fds_before << " before";
  run("ip -n " + topology_->client_ns() + " link set vc up");
  open.clear();  // their resets meet no socket on the agent's side
  client(10s, [&]() -> awaitable<void> {
    auto c = co_await connect_ws(agent_->host(), AgentUnderTest::kPort);
    EXPECT_EQ(co_await round_trip(*c.ws, "back"), "back");
    co_await c.ws->async_close(websocket::close_code::normal, use_awaitable);
  });
}

// wsteer_flows full (filled here with entries of cookies no socket has): a new client gets a 503
// with Retry-After, an HTTP answer rather than a reset, counted as
// wsteer_connections_total{result="unavailable",reason="flows_full"}; established flows and the
// agent carry on, and the next client after room came back is spliced.
TEST_F(FaultsE2E, FullFlowMapAnswers503AndServesAgainOnceThereIsRoom) {
  start(1);
  std::vector<Connected> open;
  client(10s, [&]() -> awaitable<void> { open.push_back(co_await connect_ws(agent_->host(), AgentUnderTest::kPort)); });
  const int flows = bpf_obj_get((agent_->bpffs() / datapath::map_names::flows).c_str());
  ASSERT_GE(flows, 0);
  std::vector<std::uint64_t> fillers;
  wsteer_flow_side filler{};
  for (std::uint64_t key = ~0ULL; fillers.size() < WSTEER_MAX_FLOW_SOCKETS; --key) {  // no socket has these cookies
    if (bpf_map_update_elem(flows, &key, &filler, BPF_NOEXIST) != 0) break;
    fillers.push_back(key);
  }
  EXPECT_EQ(fillers.size() + 2, static_cast<std::size_t>(WSTEER_MAX_FLOW_SOCKETS)) << "the map is full";
  const auto reply = http_exchange(topology_->client_ns(), agent_->host(), AgentUnderTest::kPort,
                                   "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                   "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
  EXPECT_EQ(reply.status, 503) << reply.body;
  EXPECT_EQ(reply.header("Retry-After"), "1");
  EXPECT_EQ(unavailable(agent_->metrics(), "flows_full"), 1);
  client(10s, [&]() -> awaitable<void> {  // the established flow is untouched
    const auto msg = Pattern(3).next(50000);
    EXPECT_EQ(co_await round_trip(*open[0].ws, msg, true), msg);
  });
  for (auto key : fillers) bpf_map_delete_elem(flows, &key);
  ::close(flows);
  client(10s, [&]() -> awaitable<void> {
    auto c = co_await connect_ws(agent_->host(), AgentUnderTest::kPort);
    EXPECT_EQ(co_await round_trip(*c.ws, "room again"), "room again");
    co_await c.ws->async_close(websocket::close_code::normal, use_awaitable);
    co_await open[0].ws->async_close(websocket::close_code::normal, use_awaitable);
  });
  EXPECT_TRUE(wait_for([&] { return agent_->flow_map_entries() == 0; }, 3s)) << agent_->flow_map_entries();
}

// The agent out of descriptors (its RLIMIT_NOFILE lowered while it runs): a client it cannot
// serve gets a 503 with Retry-After (from the listener, which keeps 32 descriptors in reserve, or
// from the session when the backend socket cannot be made), counted as
// wsteer_connections_total{result="unavailable",reason="descriptors"}; the agent does not crash,
// its flows go on, and it serves again once the limit is raised.
TEST_F(FaultsE2E, OutOfDescriptorsAnswers503AndServesAgainOnceThereAreSome) {
  start(1);
  const auto fds_before = fd_baseline();
  const auto pid = std::to_string(agent_->process().pid());
  run("prlimit --pid " + pid + " --nofile=" + std::to_string(fds_before + 32 + 8) + ":");  // soft only; 32: the reserve
  std::vector<Connected> open;
  client(20s, [&]() -> awaitable<void> {
    for (int i = 0; i < 10; ++i) {
      try {
        open.push_back(co_await connect_ws(agent_->host(), AgentUnderTest::kPort));
      } catch (const std::exception&) {
        break;
      }
    }
  });
  EXPECT_LT(open.size(), 10u) << "the lowered limit did not bite";
  const std::string upgrade =
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
  for (int i = 0; i < 3; ++i) {  // both ways of running out: accept() itself, or the backend socket
    const auto reply = http_exchange(topology_->client_ns(), agent_->host(), AgentUnderTest::kPort, upgrade);
    EXPECT_EQ(reply.status, 503) << "attempt " << i << ": " << reply.body;
    EXPECT_EQ(reply.header("Retry-After"), "1");
    EXPECT_EQ(reply.body, "descriptors\n");
  }
  EXPECT_FALSE(agent_->process().wait_exit(0ms).has_value()) << "the agent died";
  client(10s, [&]() -> awaitable<void> {
    for (std::size_t i = 0; i < open.size(); ++i) {
      const auto msg = Pattern(40 + i).next(30000);
      EXPECT_EQ(co_await round_trip(*open[i].ws, msg, true), msg) << "flow " << i;
    }
  });
  run("prlimit --pid " + pid + " --nofile=4096:");
  EXPECT_GE(unavailable(agent_->metrics(), "descriptors"), 3);
  client(10s, [&]() -> awaitable<void> {
    auto c = co_await connect_ws(agent_->host(), AgentUnderTest::kPort);
    EXPECT_EQ(co_await round_trip(*c.ws, "descriptors again"), "descriptors again");
    co_await c.ws->async_close(websocket::close_code::normal, use_awaitable);
    for (auto& o : open) co_await o.ws->async_close(websocket::close_code::normal, use_awaitable);
  });
}

}  // namespace
}  // namespace wsteer::test
