// The agent hand-off end to end (docs/handoff.md): a real agent v1 with spliced flows streaming
// checked data both ways and a client opening connections all along; a v2 started with
// --takeover on the same --bpffs takes over the listeners and every flow, and v1 exits 0. Not one
// flow may break, not one connect may fail, three hand-offs in a row; nothing is left behind.
// Also: an incompatible map layout is refused and v1 serves on; a successor that dies mid-hand-off
// leaves every flow with v1.
#include "admin/control_protocol.h"
#include "datapath/map_keys.h"
#include "datapath/map_names.h"
#include "demo/pattern.h"
#include "harness/agent_under_test.h"
#include "harness/netns.h"
#include "harness/privileges.h"
#include "harness/process.h"
#include "harness/ws_client.h"

#include <bpf/bpf.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>


namespace wsteer::test {
namespace {

namespace asio = boost::asio;
namespace websocket = boost::beast::websocket;
using namespace std::chrono_literals;
using asio::awaitable;
using asio::use_awaitable;

constexpr int kFlows = 200;

awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(use_awaitable);
}

// The client side, on its own thread in the client namespace: `flows` flows each sending checked
// messages (pattern + sequence number) and reading the echo back, one every `pace` plus up to 30
// ms (different per flow), and new clients arriving at `connects_per_second`, each opening,
// checking and closing one connection.
struct LoadShape {
  int flows = kFlows;
  std::chrono::milliseconds pace{20};
  int connects_per_second = 100;
};

class Load {
 public:
  Load(const std::string& netns, const std::string& host, unsigned short port, LoadShape shape = {})
      : shape_(shape), rounds_(shape.flows) {
    for (auto& r : rounds_) r = 0;
    thread_ = std::thread([this, netns, host, port] {
      try {
        run_in_netns(netns, 900s, [&]() -> awaitable<void> {
          auto ex = co_await asio::this_coro::executor;
          for (int i = 0; i < shape_.flows; ++i) asio::co_spawn(ex, flow(host, port, i), asio::detached);
          asio::co_spawn(ex, connector(host, port), asio::detached);
          while (!stop_ || running_ > 0) co_await sleep_for(20ms);
        });
      } catch (const std::exception& e) {
        failure_ = e.what();
      }
    });
  }
  ~Load() { finish(); }
  void finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  // No new clients until resume_connects(); returns once the ones under way have closed (bounded).
  // The crash tests need it: an agent's flow table then holds exactly the `flows` flows, so a
  // batch of the hand-off is made of them only.
  void pause_connects() {
    connects_paused_ = true;
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (connecting_ > 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  }
  void resume_connects() { connects_paused_ = false; }

  int flows() const { return shape_.flows; }
  int connected() const { return connected_.load(); }
  std::uint64_t rounds(int i) const { return rounds_[i].load(); }
  std::vector<std::uint64_t> all_rounds() const {
    std::vector<std::uint64_t> out;
    for (const auto& r : rounds_) out.push_back(r.load());
    return out;
  }
  int broken() const { return broken_.load(); }
  // Waits (bounded) until `n` flows broke; returns the count then.
  int wait_broken(int n, std::chrono::milliseconds limit) const {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (broken_ < n && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
    return broken_.load();
  }
  int corrupted() const { return corrupted_.load(); }
  int connects_ok() const { return connects_ok_.load(); }
  int connects_failed() const { return connects_failed_.load(); }
  const std::string& failure() const { return failure_; }
  std::string last_error() const {
    std::lock_guard lock(mutex_);
    return last_error_;
  }

 private:
  void note(const std::string& e) {
    std::lock_guard lock(mutex_);
    last_error_ = e;
  }

  awaitable<void> flow(std::string host, unsigned short port, int i) {
    ++running_;
    try {
      auto c = co_await connect_ws(host, port);
      ++connected_;
      for (std::uint64_t seq = 0; !stop_; ++seq) {
        // 1-16 KiB, different per flow and message: both directions carry checked bytes.
        const std::size_t size = 1024 + (i * 131 + seq * 977) % (15 * 1024);
        std::string msg = std::to_string(i) + ":" + std::to_string(seq) + ":" + demo::Pattern(i * 100000 + seq).next(size);
        const auto echo = co_await round_trip(*c.ws, msg, true);
        if (echo != msg) {
          ++corrupted_;
          break;
        }
        ++rounds_[i];
        co_await sleep_for(shape_.pace + std::chrono::milliseconds(i % 30));  // leaves the client thread time to connect
      }
      co_await c.ws->async_close(websocket::close_code::normal, use_awaitable);
    } catch (const std::exception& e) {
      if (!stop_) {
        ++broken_;
        note("flow " + std::to_string(i) + ": " + e.what());
      }
    }
    --running_;
  }

  // Open loop: a new client every 1/connects_per_second whatever the earlier ones are doing, as
  // real clients arrive (a connect waiting in the backlog during a hand-off does not slow the rest).
  awaitable<void> connector(std::string host, unsigned short port) {
    ++running_;
    auto ex = co_await asio::this_coro::executor;
    const auto period = std::chrono::microseconds(1'000'000 / shape_.connects_per_second);
    auto next = std::chrono::steady_clock::now();
    for (int n = 0; !stop_; ++n) {
      if (connects_paused_) next = std::chrono::steady_clock::now();  // no burst to catch up on resume
      else asio::co_spawn(ex, connect_once(host, port, n), asio::detached);
      next += period;
      const auto now = std::chrono::steady_clock::now();
      if (next > now) {
        asio::steady_timer t(ex, next - now);
        co_await t.async_wait(use_awaitable);
      }
    }
    --running_;
  }

  awaitable<void> connect_once(std::string host, unsigned short port, int n) {
    ++running_;
    ++connecting_;
    try {
      auto c = co_await connect_ws(host, port);
      const std::string msg = "hello " + std::to_string(n);
      if (co_await round_trip(*c.ws, msg) == msg) ++connects_ok_;
      else ++connects_failed_;
      co_await c.ws->async_close(websocket::close_code::normal, use_awaitable);
    } catch (const std::exception& e) {
      ++connects_failed_;
      note(std::string("connect: ") + e.what());
    }
    --connecting_;
    --running_;
  }

  const LoadShape shape_;
  std::vector<std::atomic<std::uint64_t>> rounds_;
  std::atomic<int> connected_{0}, broken_{0}, corrupted_{0}, connects_ok_{0}, connects_failed_{0}, running_{0}, connecting_{0};
  std::atomic<bool> stop_{false}, connects_paused_{false};
  std::string failure_;
  mutable std::mutex mutex_;
  std::string last_error_;
  std::thread thread_;
};

class HandoffE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    WSTEER_REQUIRE_PRIVILEGED();
    // A thousand client sockets in this process (the hard limit here is 20,000).
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
      lim.rlim_cur = lim.rlim_max;
      ::setrlimit(RLIMIT_NOFILE, &lim);
    }
    topology_ = std::make_unique<Topology>(3);
    backends_ = std::make_unique<Backends>(*topology_, dir_);
    std::ofstream(dir_.path() / "endpoints") << backends_->endpoints();
    bpffs_ = "/sys/fs/bpf/wsteer-handoff-" + std::to_string(::getpid()) + "-" + dir_.path().filename().string();
  }

  void TearDown() override {
    if (HasFailure())
      for (auto& a : agents_)
        if (a) std::cerr << "---- agent log ----\n" << a->log();
    agents_.clear();  // SIGTERM, wait, SIGKILL
    std::error_code ec;
    std::filesystem::remove_all(bpffs_, ec);
    const auto sock = admin::default_control_socket(bpffs_);
    if (std::filesystem::is_socket(sock, ec)) std::filesystem::remove(sock, ec);
    backends_.reset();
    topology_.reset();
  }

  // Starts an agent generation; v1 waits until ready, a successor until it logs the end of the hand-off.
  Process& start_agent(bool takeover, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv{agent_binary(),
                                  "--listen", host() + ":" + std::to_string(AgentUnderTest::kPort),
                                  "--endpoints-file", (dir_.path() / "endpoints").string(),
                                  "--metrics-listen", host() + ":" + std::to_string(AgentUnderTest::kMetricsPort),
                                  "--bpffs", bpffs_.string(), "--shutdown-grace", "5", "--workers", "2"};
    if (takeover) argv.push_back("--takeover");
    argv.insert(argv.end(), extra.begin(), extra.end());
    const auto log = dir_.path() / ("agent" + std::to_string(agents_.size()) + ".log");
    agents_.push_back(std::make_unique<Process>(topology_->agent_ns(), argv, log.string()));
    Process& agent = *agents_.back();
    if (!takeover) {
      const auto deadline = std::chrono::steady_clock::now() + 10s;
      for (;;) {
        try {
          if (http_exchange(topology_->agent_ns(), host(), AgentUnderTest::kMetricsPort,
                            "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n").status == 200)
            break;
        } catch (const std::exception&) {
        }
        if (agent.wait_exit(0ms) || std::chrono::steady_clock::now() > deadline)
          throw std::runtime_error("agent did not become ready:\n" + agent.log());
        std::this_thread::sleep_for(50ms);
      }
    }
    return agent;
  }

  // A successor with the test hook WSTEER_TEST_HANDOFF_CRASH=`point` (handoff_sender.h); waits
  // for it to exit (crash points exit 99, fail points throw and exit non-zero) and returns its code.
  int failing_successor(const char* point) {
    ::setenv("WSTEER_TEST_HANDOFF_CRASH", point, 1);
    Process& next = start_agent(true);
    ::unsetenv("WSTEER_TEST_HANDOFF_CRASH");
    const auto code = next.wait_exit(30s);
    if (!code) ADD_FAILURE() << "the successor with hook " << point << " did not exit:\n" << next.log();
    return code.value_or(-1);
  }

  // Waits (bounded) until `agent`'s log contains `text`.
  static bool wait_log(Process& agent, const std::string& text, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (agent.log().find(text) == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(20ms);
    }
    return true;
  }

  // What the successor's log says it adopted ("hand-off done: N flows adopted").
  static int adopted_count(Process& agent) {
    const std::string log = agent.log();
    const std::string marker = "hand-off done: ";
    const auto at = log.find(marker);
    return at == std::string::npos ? -1 : std::atoi(log.c_str() + at + marker.size());
  }

  // Every flow made at least one more round trip than in `before`.
  static void expect_all_moved(const Load& load, const std::vector<std::uint64_t>& before, const char* when) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    int stuck = 0;
    do {
      stuck = 0;
      for (int i = 0; i < load.flows(); ++i) stuck += load.rounds(i) <= before[i];
      if (stuck == 0) return;
      std::this_thread::sleep_for(50ms);
    } while (std::chrono::steady_clock::now() < deadline);
    ADD_FAILURE() << stuck << " flows made no progress " << when << "; " << load.last_error();
  }

  // `rounds` hand-offs in a row, each a new generation taking over from the last, under `shape`'s
  // load: not one flow broken or corrupted, not one connect failed, nothing left behind.
  void hand_offs_under_load(LoadShape shape, int rounds) {
    Process* current = &start_agent(false);
    Load load(topology_->client_ns(), host(), AgentUnderTest::kPort, shape);
    const auto ready_by = std::chrono::steady_clock::now() + 30s;
    while (load.connected() < load.flows() && std::chrono::steady_clock::now() < ready_by) std::this_thread::sleep_for(20ms);
    ASSERT_EQ(load.connected(), load.flows()) << load.last_error();
    expect_all_moved(load, std::vector<std::uint64_t>(load.flows(), 0), "before the first hand-off");

    const int connects_at_start = load.connects_ok();
    const auto load_started = std::chrono::steady_clock::now();
    for (int round = 1; round <= rounds; ++round) {
      const auto before = load.all_rounds();
      const auto started = std::chrono::steady_clock::now();
      Process& next = start_agent(true);
      const auto code = current->wait_exit(30s);
      ASSERT_TRUE(code.has_value()) << "v" << round << " did not exit after the hand-off";
      EXPECT_EQ(*code, 0) << "v" << round << " exit status";
      ASSERT_TRUE(wait_log(next, "hand-off done:", 10s)) << next.log();
      std::cerr << "hand-off " << round << ": "
                << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count()
                << " ms until the old agent exited\n";
      // Every streaming flow, plus the connector's connection if it was open at that moment.
      EXPECT_GE(adopted_count(next), load.flows()) << next.log();
      expect_all_moved(load, before, ("after hand-off " + std::to_string(round)).c_str());
      std::this_thread::sleep_for(1s);  // the next generation serves for a while before it is replaced
      EXPECT_EQ(load.broken(), 0) << load.last_error();
      EXPECT_EQ(load.corrupted(), 0);
      current = &next;
    }
    const int connects_before_end = load.connects_ok();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_started).count();
    const double rate = (connects_before_end - connects_at_start) / seconds;
    const double target = shape.connects_per_second;
    std::cerr << "new connections through " << rounds << " hand-offs: " << rate << "/s served (" << target << "/s arriving)\n";
    load.finish();
    EXPECT_EQ(load.broken(), 0) << load.last_error();
    EXPECT_EQ(load.corrupted(), 0);
    EXPECT_EQ(load.connects_failed(), 0) << load.last_error();
    EXPECT_GT(rate, 0.9 * target) << "fewer new clients served than arrived";
    EXPECT_TRUE(load.failure().empty()) << load.failure();
    std::cerr << "connects: " << load.connects_ok() << " ok, " << load.connects_failed() << " failed\n";

    // Every flow ended: no map entry left; then a clean exit removes pins, folder and socket.
    const auto drained_by = std::chrono::steady_clock::now() + 10s;
    while (flow_entries() != 0 && std::chrono::steady_clock::now() < drained_by) std::this_thread::sleep_for(50ms);
    EXPECT_EQ(flow_entries(), 0u) << "wsteer_flows entries left after every flow closed";
    const auto fds = current->open_fds();
    EXPECT_LT(fds, 100u) << "descriptors left open in the last agent";
    current->signal(SIGTERM);
    EXPECT_EQ(current->wait_exit(15s), 0);
    EXPECT_FALSE(std::filesystem::exists(bpffs_)) << "pins left behind";
    EXPECT_FALSE(std::filesystem::exists(admin::default_control_socket(bpffs_))) << "control socket left behind";
  }

  // Waits (bounded) until wsteer_flows holds `n` entries; returns the last count seen. The agent
  // removes a closed flow's entries a moment after its client saw the close.
  std::size_t wait_flow_entries(std::size_t n, std::chrono::milliseconds limit = 10s) const {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    std::size_t seen = flow_entries();
    while (seen != n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
      seen = flow_entries();
    }
    return seen;
  }

  std::size_t flow_entries() const {
    const int fd = bpf_obj_get((bpffs_ / datapath::map_names::flows).c_str());
    if (fd < 0) return 0;
    const std::size_t n = datapath::count_map_keys(fd);
    ::close(fd);
    return n;
  }

  std::string host() const { return topology_->agent_client_side(); }

  TempDir dir_;
  std::unique_ptr<Topology> topology_;
  std::unique_ptr<Backends> backends_;
  std::filesystem::path bpffs_;
  std::vector<std::unique_ptr<Process>> agents_;
};

TEST_F(HandoffE2E, ThreeHandOffsInARowUnderLoadDropNothing) { hand_offs_under_load(LoadShape{}, 3); }

// The scale: 1,000 flows streaming both ways, new clients at 200 connections/s, ten
// hand-offs in a row.
TEST_F(HandoffE2E, TenHandOffsOfAThousandFlowsAt200ConnectsPerSecondDropNothing) {
  hand_offs_under_load(LoadShape{.flows = 1000, .pace = 300ms, .connects_per_second = 200}, 10);
}

TEST_F(HandoffE2E, AnIncompatibleSuccessorIsRefusedAndTheOldAgentServesOn) {
  Process& v1 = start_agent(false);
  Load load(topology_->client_ns(), host(), AgentUnderTest::kPort);
  while (load.connected() < kFlows) std::this_thread::sleep_for(20ms);
  const auto before = load.all_rounds();
  ::setenv("WSTEER_TEST_ABI_VERSION", "999", 1);
  Process& v2 = start_agent(true);
  ::unsetenv("WSTEER_TEST_ABI_VERSION");
  const auto code = v2.wait_exit(15s);
  ASSERT_TRUE(code.has_value()) << v2.log();
  EXPECT_NE(*code, 0);
  EXPECT_NE(v2.log().find("map layout version mismatch"), std::string::npos) << v2.log();
  EXPECT_FALSE(v1.wait_exit(0ms).has_value()) << "v1 exited";
  expect_all_moved(load, before, "after the refused hand-off");
  load.finish();
  EXPECT_EQ(load.broken(), 0) << load.last_error();
  EXPECT_EQ(load.connects_failed(), 0) << load.last_error();
}

TEST_F(HandoffE2E, ASuccessorThatDiesMidHandOffLeavesEveryFlowWithTheOldAgent) {
  Process& v1 = start_agent(false);
  Load load(topology_->client_ns(), host(), AgentUnderTest::kPort);
  while (load.connected() < kFlows) std::this_thread::sleep_for(20ms);
  const auto before = load.all_rounds();
  // The successor adopts the first batch, then dies before acknowledging it.
  EXPECT_EQ(failing_successor("receiver-mid-flows"), 99) << agents_.back()->log();
  ASSERT_TRUE(wait_log(v1, "hand-off abandoned", 10s)) << v1.log();  // logged once all is back
  EXPECT_NE(v1.log().find("hand-off failed"), std::string::npos) << v1.log();
  EXPECT_FALSE(v1.wait_exit(0ms).has_value()) << "v1 exited";
  expect_all_moved(load, before, "after the successor died");
  // v1 serves new clients again and can still hand over to a healthy successor.
  const auto again = load.all_rounds();
  Process& v3 = start_agent(true);
  EXPECT_EQ(v1.wait_exit(30s), 0);
  ASSERT_TRUE(wait_log(v3, "hand-off done:", 10s)) << v3.log();
  expect_all_moved(load, again, "after the second hand-off");
  load.finish();
  EXPECT_EQ(load.broken(), 0) << load.last_error();
  EXPECT_EQ(load.corrupted(), 0);
  EXPECT_EQ(load.connects_failed(), 0) << load.last_error();
}

// The successor acknowledges the first batch, then dies: those 100 flows were its own and die
// with it (their clients see the connection end); the old agent keeps the rest and, a moment
// later, removes the dead flows' wsteer_flows/wsteer_flow_ctl entries (the kernel only empties
// the sockhashes). A later hand-off succeeds, and once every flow has closed no entry is left.
// New clients wait while the hand-off runs: a client mid-handshake would be one of the flows
// handed over, and which 100 flows make the first batch must not depend on how many there are
// (under ASan, dozens).
TEST_F(HandoffE2E, ASuccessorThatDiesOwningFlowsLeavesNoEntryOfThemBehind) {
  Process& v1 = start_agent(false);
  Load load(topology_->client_ns(), host(), AgentUnderTest::kPort);
  while (load.connected() < kFlows) std::this_thread::sleep_for(20ms);
  load.pause_connects();
  ASSERT_EQ(wait_flow_entries(2u * kFlows), 2u * kFlows) << "the arriving clients' flows did not end";
  EXPECT_EQ(failing_successor("receiver-after-first-batch"), 99) << agents_.back()->log();
  ASSERT_TRUE(wait_log(v1, "hand-off failed after 100 flows", 10s)) << v1.log();
  ASSERT_TRUE(wait_log(v1, "whose flows died with the other agent", 15s)) << v1.log();
  EXPECT_EQ(load.wait_broken(100, 10s), 100) << "the successor's flows did not end with it";
  // Every live flow has two entries (client and backend socket), and nothing else is left.
  EXPECT_EQ(wait_flow_entries(2u * (kFlows - 100)), 2u * (kFlows - 100))
      << "entries of the dead successor's flows were left behind";
  load.resume_connects();

  Process& v3 = start_agent(true);
  EXPECT_EQ(v1.wait_exit(30s), 0);
  ASSERT_TRUE(wait_log(v3, "hand-off done:", 10s)) << v3.log();
  EXPECT_GE(adopted_count(v3), kFlows - 100) << v3.log();
  load.finish();
  EXPECT_EQ(load.corrupted(), 0);
  EXPECT_EQ(wait_flow_entries(0), 0u) << "wsteer_flows entries left after every flow closed";
}

// The old agent dies after sending its second batch, before the acknowledgement: the successor
// holds the descriptors of both batches and keeps serving them. Only flows never sent die with
// the old agent; new clients wait while the hand-off runs, so the 200 flows fill exactly the two
// batches and none is left to die.
TEST_F(HandoffE2E, AnOldAgentThatDiesMidHandOffLeavesTheSentFlowsWithTheSuccessor) {
  ::setenv("WSTEER_TEST_HANDOFF_CRASH", "sender-mid-flows", 1);
  Process& v1 = start_agent(false);
  ::unsetenv("WSTEER_TEST_HANDOFF_CRASH");
  Load load(topology_->client_ns(), host(), AgentUnderTest::kPort);
  while (load.connected() < kFlows) std::this_thread::sleep_for(20ms);
  load.pause_connects();
  ASSERT_EQ(wait_flow_entries(2u * kFlows), 2u * kFlows) << "the arriving clients' flows did not end";
  const auto before = load.all_rounds();
  Process& v2 = start_agent(true);
  EXPECT_EQ(v1.wait_exit(30s), 99) << v1.log();
  ASSERT_TRUE(wait_log(v2, "(200 flows adopted)", 10s)) << v2.log();  // "hand-off: <error> (N flows adopted)"
  EXPECT_FALSE(v2.wait_exit(0ms).has_value()) << "the successor exited";
  expect_all_moved(load, before, "after the old agent died");
  EXPECT_EQ(load.broken(), 0) << load.last_error();
  EXPECT_EQ(load.corrupted(), 0);
  // The successor sweeps what died with the old agent: nothing here, every entry is a live flow's.
  EXPECT_TRUE(wait_log(v2, "removed the map entries of 0 sockets", 15s)) << v2.log();
  EXPECT_EQ(flow_entries(), 2u * kFlows);
  // New clients are served by the successor.
  const int ok_before = load.connects_ok();
  load.resume_connects();
  std::this_thread::sleep_for(1s);
  EXPECT_GT(load.connects_ok(), ok_before) << load.last_error();
  load.finish();
  EXPECT_EQ(load.broken(), 0) << load.last_error();
  EXPECT_EQ(load.connects_failed(), 0) << load.last_error();
}

// A successor that fails cleanly after adopting the maps (a test hook throws there)
// unpins and detaches nothing: the old agent takes its verdict and listeners back, new clients
// are spliced as before, and a later hand-off succeeds.
TEST_F(HandoffE2E, ASuccessorThatFailsAfterAdoptingTheMapsLeavesThemToTheOldAgent) {
  Process& v1 = start_agent(false);
  Load load(topology_->client_ns(), host(), AgentUnderTest::kPort);
  while (load.connected() < kFlows) std::this_thread::sleep_for(20ms);
  EXPECT_NE(failing_successor("receiver-after-maps"), 0);
  Process& v2 = *agents_.back();
  EXPECT_NE(v2.log().find("test hook: failing at receiver-after-maps"), std::string::npos) << v2.log();
  ASSERT_TRUE(wait_log(v1, "hand-off abandoned", 10s)) << v1.log();  // logged once all is back
  EXPECT_NE(v1.log().find("hand-off failed"), std::string::npos) << v1.log();
  EXPECT_TRUE(std::filesystem::exists(bpffs_ / datapath::map_names::spliced)) << "the failed successor unpinned";
  EXPECT_EQ(http_exchange(topology_->agent_ns(), host(), AgentUnderTest::kMetricsPort,
                          "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").status, 200)
      << "the old agent's verdict is not attached again";
  const auto before = load.all_rounds();
  const int ok_before = load.connects_ok();
  expect_all_moved(load, before, "after the failed hand-off");
  std::this_thread::sleep_for(500ms);
  EXPECT_GT(load.connects_ok(), ok_before) << load.last_error();
  Process& v3 = start_agent(true);
  EXPECT_EQ(v1.wait_exit(30s), 0);
  ASSERT_TRUE(wait_log(v3, "hand-off done:", 10s)) << v3.log();
  const auto after = load.all_rounds();
  expect_all_moved(load, after, "after the second hand-off");
  load.finish();
  EXPECT_EQ(load.broken(), 0) << load.last_error();
  EXPECT_EQ(load.corrupted(), 0);
  EXPECT_EQ(load.connects_failed(), 0) << load.last_error();
}

// In a pod the old agent must not exit (its container would be restarted): --idle-after-handoff
// keeps it up, serving nothing, until SIGTERM, and that SIGTERM takes nothing from the successor.
TEST_F(HandoffE2E, AnIdleOldAgentWaitsForSigtermAndLeavesTheSuccessorAlone) {
  Process& v1 = start_agent(false, {"--idle-after-handoff"});
  Load load(topology_->client_ns(), host(), AgentUnderTest::kPort);
  while (load.connected() < kFlows) std::this_thread::sleep_for(20ms);
  Process& v2 = start_agent(true, {"--idle-after-handoff"});
  ASSERT_TRUE(wait_log(v1, "idle until SIGTERM", 30s)) << v1.log();
  ASSERT_TRUE(wait_log(v2, "hand-off done:", 10s)) << v2.log();
  EXPECT_FALSE(v1.wait_exit(1s).has_value()) << "the old agent exited";
  const auto before = load.all_rounds();
  v1.signal(SIGTERM);
  EXPECT_EQ(v1.wait_exit(10s), 0);
  EXPECT_TRUE(std::filesystem::exists(bpffs_ / datapath::map_names::spliced)) << "the old agent unpinned";
  expect_all_moved(load, before, "after the idle old agent stopped");
  EXPECT_EQ(http_exchange(topology_->agent_ns(), host(), AgentUnderTest::kMetricsPort,
                          "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n").status, 200);
  load.finish();
  EXPECT_EQ(load.broken(), 0) << load.last_error();
  EXPECT_EQ(load.connects_failed(), 0) << load.last_error();
  EXPECT_FALSE(v2.wait_exit(0ms).has_value());
}

// Backpressure across the hand-off: clients that stop reading while the backend echoes 8 MiB make
// the verdict hold bytes (a small --splice-buffer-limit); held bytes stay on the sockets until
// written (the relay only peeks at them), so the hand-off takes the flows mid-hold and the
// successor relays the rest.
TEST_F(HandoffE2E, FlowsHeldByBackpressureAreHandedOverAndFinishIntact) {
  constexpr int kHeld = 20;
  constexpr std::size_t kSize = 8u << 20;
  const std::vector<std::string> limit{"--splice-buffer-limit", "256KiB"};
  start_agent(false, limit);
  int intact = 0;
  std::atomic<bool> sent{false};
  std::atomic<bool> handed{false};
  std::thread clients([&] {
    run_in_netns(topology_->client_ns(), 120s, [&]() -> awaitable<void> {
      auto ex = co_await asio::this_coro::executor;
      int done = 0, written = 0;
      for (int i = 0; i < kHeld; ++i)
        asio::co_spawn(ex, [&, i]() -> awaitable<void> {
          try {
            auto c = co_await connect_ws(host(), AgentUnderTest::kPort);
            c.ws->binary(true);
            const std::string msg = demo::Pattern(7000 + i).next(kSize);
            co_await c.ws->async_write(asio::buffer(msg), use_awaitable);
            if (++written == kHeld) sent = true;
            while (!handed) co_await sleep_for(20ms);  // not reading: the echo is held meanwhile
            co_await sleep_for(std::chrono::milliseconds(500));
            boost::beast::flat_buffer buf;
            co_await c.ws->async_read(buf, use_awaitable);
            intact += boost::beast::buffers_to_string(buf.data()) == msg;
            co_await c.ws->async_close(websocket::close_code::normal, use_awaitable);
          } catch (const std::exception& e) {
            std::cerr << "held flow " << i << ": " << e.what() << "\n";
          }
          ++done;
        }, asio::detached);
      while (done < kHeld) co_await sleep_for(20ms);
    });
  });
  const auto sent_by = std::chrono::steady_clock::now() + 60s;
  while (!sent && std::chrono::steady_clock::now() < sent_by) std::this_thread::sleep_for(20ms);
  std::this_thread::sleep_for(300ms);  // the echoes pile up against the limit
  Process& v2 = start_agent(true, limit);
  handed = true;  // the clients start reading while the hand-off is under way
  EXPECT_EQ(agents_.front()->wait_exit(30s), 0);
  EXPECT_TRUE(wait_log(v2, "hand-off done:", 10s)) << v2.log();
  clients.join();
  EXPECT_EQ(intact, kHeld);
  EXPECT_GE(adopted_count(v2), 1) << v2.log();
  // The successor did relay held bytes itself: the hand-off happened mid-hold, not after it.
  const auto reply = http_exchange(topology_->agent_ns(), host(), AgentUnderTest::kMetricsPort,
                                   "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string name = "wsteer_backpressure_relayed_bytes_total ";
  const auto at = reply.body.find("\n" + name);
  ASSERT_NE(at, std::string::npos) << reply.body;
  const double relayed = std::stod(reply.body.substr(at + 1 + name.size()));
  EXPECT_GT(relayed, 0) << "the successor relayed no held byte";
  std::cerr << "held flows adopted: " << adopted_count(v2) << " of " << kHeld << ", successor relayed " << relayed
            << " held bytes\n";
}

}  // namespace
}  // namespace wsteer::test
