// wsteer-bench end to end on loopback, in one process: the fast backend and the client of every
// mode, with the counts a user would check (everything connected, messages measured, nothing
// failed), the --messages limit, a refused upgrade, a server that dies mid-run, and no fd leaks.
#include "bench/client_runner.h"
#include "bench/server.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace wsteer::bench {
namespace {

int open_fds() {
  int n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

class BenchLoopback : public ::testing::Test {
 protected:
  void SetUp() override { server_ = std::make_unique<BenchServer>(ServerOptions{"127.0.0.1", 0, 2}); }

  ClientOptions options(Mode mode, const std::string& path = "/") {
    ClientOptions o;
    o.url = parse_ws_url("ws://127.0.0.1:" + std::to_string(server_->port()) + path);
    o.mode = mode;
    o.connections = 4;
    o.duration = 0.5;
    o.warmup = 0.1;
    o.quiet = true;
    o.threads = 2;
    return o;
  }

  BenchResult run(const ClientOptions& o) {
    const auto r = run_client(o, stop_).result;
    EXPECT_EQ(r.mode, mode_name(o.mode));
    EXPECT_EQ(r.established, static_cast<std::uint64_t>(o.connections));
    EXPECT_EQ(r.connect_failed, 0u);
    EXPECT_NEAR(r.duration_seconds, o.duration, 0.05);
    return r;
  }

  std::atomic<bool> stop_{false};
  std::unique_ptr<BenchServer> server_;
};

TEST_F(BenchLoopback, PingpongMeasuresEveryRoundTrip) {
  const int fds = open_fds();
  const auto r = run(options(Mode::pingpong));
  EXPECT_EQ(r.errors, 0u);
  EXPECT_GT(r.messages, 100u);
  EXPECT_EQ(r.latency.count(), r.messages);
  EXPECT_EQ(r.bytes, r.messages * 64);
  EXPECT_GT(r.latency.percentile_ns(50), 0u);
  EXPECT_EQ(r.handshakes, 4u);
  EXPECT_EQ(open_fds(), fds);  // every connection closed, every thread's epoll gone
}

TEST_F(BenchLoopback, OpenLoopKeepsItsSchedule) {
  auto o = options(Mode::open);
  o.rate = 200;  // 4 connections x 200/s x 0.5 s = 400 messages
  o.duration = 0.5;
  const auto r = run(o);
  EXPECT_EQ(r.errors, 0u);
  EXPECT_NEAR(static_cast<double>(r.messages), 400, 40);
  EXPECT_EQ(r.latency.count(), r.messages);
}

TEST_F(BenchLoopback, MessagesLimitStopsExactly) {
  auto o = options(Mode::pingpong);
  o.duration = 60;  // ignored: --messages wins
  o.messages = 3000;
  const auto r = run_client(o, stop_).result;
  EXPECT_EQ(r.errors, 0u);
  EXPECT_EQ(r.messages, 3000u);
  EXPECT_LT(r.duration_seconds, 30);
}

TEST_F(BenchLoopback, IdleTrickleWithReadyFile) {
  const auto ready = std::filesystem::temp_directory_path() / ("bench-ready-" + std::to_string(getpid()));
  auto o = options(Mode::idle);
  o.connections = 50;
  o.rate = 20;
  o.ready_file = ready;
  const auto r = run(o);
  EXPECT_EQ(r.errors, 0u);
  EXPECT_NEAR(static_cast<double>(r.messages), 50 * 20 * 0.5, 50);
  EXPECT_TRUE(std::filesystem::exists(ready));
  std::filesystem::remove(ready);
}

TEST_F(BenchLoopback, StreamDownAndUpMoveBytes) {
  auto o = options(Mode::stream);
  o.size = 16384;
  o.connections = 2;
  const auto down = run(o);
  EXPECT_EQ(down.errors, 0u);
  EXPECT_GT(down.bytes, 10u << 20);
  EXPECT_EQ(down.bytes, down.messages * 16384);
  EXPECT_NEAR(down.bytes_per_second, static_cast<double>(down.bytes) / down.duration_seconds, 1.0);
  o.direction = Direction::up;
  const auto up = run(o);
  EXPECT_EQ(up.errors, 0u);
  EXPECT_GT(up.bytes, 10u << 20);  // counted by the server
  EXPECT_EQ(up.bytes, up.messages * 16384);
  EXPECT_GT(up.bytes_per_second, 0);
}

TEST_F(BenchLoopback, ChurnCountsHandshakes) {
  const auto r = run(options(Mode::churn));
  EXPECT_EQ(r.errors, 0u);
  EXPECT_EQ(r.handshakes_failed, 0u);
  EXPECT_GT(r.handshakes, 50u);
  EXPECT_EQ(r.latency.count(), r.handshakes);
  EXPECT_NEAR(static_cast<double>(r.messages), static_cast<double>(r.handshakes), 8);
}

TEST_F(BenchLoopback, RefusedUpgradeIsAConnectFailureWithTheStatus) {
  const auto run = run_client(options(Mode::pingpong, "/nowhere"), stop_);
  EXPECT_EQ(run.result.established, 0u);
  EXPECT_EQ(run.result.connect_failed, 4u);
  EXPECT_NE(run.first_error.find("HTTP 404"), std::string::npos) << run.first_error;
}

TEST_F(BenchLoopback, ServerDyingMidRunIsCounted) {
  auto o = options(Mode::pingpong);
  o.duration = 5;
  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    server_.reset();  // closes every server socket
  });
  const auto run = run_client(o, stop_);
  killer.join();
  EXPECT_EQ(run.result.errors, 4u);
  EXPECT_LT(run.result.duration_seconds, 2);  // the run ends when nothing is left running
  EXPECT_FALSE(run.first_error.empty());
}

}  // namespace
}  // namespace wsteer::bench

namespace wsteer::bench {
namespace {

TEST(BenchServerListen, APortInUseIsAnErrorNotASilentShare) {
  BenchServer first(ServerOptions{"127.0.0.1", 0, 1});
  EXPECT_THROW(BenchServer(ServerOptions{"127.0.0.1", first.port(), 2}), std::system_error);
  EXPECT_THROW(BenchServer(ServerOptions{"not-an-address", 1, 1}), std::system_error);
}

}  // namespace
}  // namespace wsteer::bench
