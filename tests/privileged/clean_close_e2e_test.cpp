// Clean closes of spliced flows that were streaming (issue 14: the bug the benchmark smoke used to
// tolerate). A peer's last bytes and its FIN often travel in one TCP segment (the FIN joins the
// tail of a full send queue). The agent must not shut the other socket's write side before the
// verdict has passed those last bytes on, or they are lost (the peer's backlog fails them with
// EPIPE) and the close is not clean. Both directions, 100 flows at a time, several rounds.
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

#include <iostream>
#include <tuple>
#include <map>

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

constexpr int kFlows = 100;
constexpr auto kTestTime = 4s;  // rounds are repeated until this much time has passed

awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(use_awaitable);
}

// Closes the socket when a flow has not finished in time: its pending operations then fail.
struct Watchdog {
  explicit Watchdog(Ws& ws, std::chrono::seconds limit) : timer(ws.get_executor(), limit) {
    timer.async_wait([&ws](boost::system::error_code ec) {
      if (!ec) beast::get_lowest_layer(ws).close();
    });
  }
  ~Watchdog() { timer.cancel(); }
  asio::steady_timer timer;
};

class CleanCloseE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    WSTEER_REQUIRE_PRIVILEGED();
    topology_ = std::make_unique<Topology>(2);
    backends_ = std::make_unique<Backends>(*topology_, dir_);
  }
  void start_agent(const std::vector<std::string>& args = {}) {
    agent_ = std::make_unique<AgentUnderTest>(*topology_, dir_, backends_->endpoints(), "splice", args);
  }
  void TearDown() override {
    if (HasFailure() && agent_) std::cerr << "---- agent log ----\n" << agent_->process().log();
    agent_.reset();
    backends_.reset();
    topology_.reset();
  }

  // Runs `flow` on kFlows connections at once, round after round, for kTestTime; returns the
  // outcome counts ("ok" and one name per kind of failure).
  std::map<std::string, int> rounds(const std::string& target,
                                    const std::function<awaitable<std::string>(Ws&, int)>& flow) {
    std::map<std::string, int> outcomes;
    int rounds_run = 0;
    const auto end = std::chrono::steady_clock::now() + kTestTime;
    while (std::chrono::steady_clock::now() < end) {
      int done = 0;
      run_in_netns(topology_->client_ns(), 30s, [&]() -> awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        for (int i = 0; i < kFlows; ++i) {
          asio::co_spawn(executor, [&, i]() -> awaitable<void> {
            std::string outcome;
            try {
              auto c = co_await connect_ws(agent_->host(), AgentUnderTest::kPort, target);
              Watchdog watchdog(*c.ws, 10s);
              outcome = co_await flow(*c.ws, rounds_run * kFlows + i);
            } catch (const std::exception& e) {
              outcome = std::string("exception: ") + e.what();
            }
            ++outcomes[outcome];
            ++done;
          }, asio::detached);
        }
        while (done < kFlows) co_await sleep_for(10ms);
      });
      ++rounds_run;
    }
    std::cerr << rounds_run << " rounds of " << kFlows << " flows:";
    for (const auto& [what, n] : outcomes) std::cerr << " [" << what << "] " << n;
    std::cerr << "\n";
    return outcomes;
  }

  TempDir dir_;
  std::unique_ptr<Topology> topology_;
  std::unique_ptr<Backends> backends_;
  std::unique_ptr<AgentUnderTest> agent_;
};

// As the benchmark's stream workload: the backend is streaming when the client closes. The
// backend answers the close behind the data still in its send queue and shuts down right after,
// so its close frame and its FIN reach the agent in the last segment of the stream.
TEST_F(CleanCloseE2E, BackendFinRightBehindItsLastBytes) {
  constexpr std::size_t kSize = 256u << 10;
  start_agent();
  const auto outcomes = rounds("/", [&](Ws& ws, int) -> awaitable<std::string> {
    std::size_t got = 0;
    bool intact = true;
    boost::system::error_code read_ec;
    bool reader_done = false;
    asio::co_spawn(ws.get_executor(), [&]() -> awaitable<void> {
      Pattern pattern(kSize);
      beast::flat_buffer in;
      for (;;) {
        auto [ec, n] = co_await ws.async_read(in, kTuple);
        if (ec) {
          read_ec = ec;
          break;
        }
        const auto msg = beast::buffers_to_string(in.data());
        in.consume(in.size());
        intact &= pattern.next(msg.size()) == msg;
        got += msg.size();
      }
      reader_done = true;
    }, asio::detached);
    ws.text(true);
    auto [write_ec, written] = co_await ws.async_write(asio::buffer(std::string("stream ") + std::to_string(kSize)), kTuple);
    // The backend reads this close only once it has written the whole stream. Written raw
    // (Beast's async_close would cancel the read and discard the stream): a masked close frame,
    // code 1000, mask key 0. The reader then gets the backend's close frame, answers it and
    // waits for the end of the stream (error::closed).
    static constexpr char kClose[] = {'\x88', '\x82', 0, 0, 0, 0, '\x03', '\xE8'};
    boost::system::error_code close_ec = write_ec;
    if (!write_ec)
      std::tie(close_ec, written) =
          co_await asio::async_write(beast::get_lowest_layer(ws).socket(), asio::buffer(kClose), kTuple);
    while (!reader_done) co_await sleep_for(1ms);
    if (got != kSize) co_return "short stream: " + read_ec.message();
    if (!intact) co_return "corrupt stream";
    if (read_ec != websocket::error::closed) co_return "no clean close: " + read_ec.message();
    if (close_ec) co_return "close: " + close_ec.message();
    co_return "ok";
  });
  EXPECT_EQ(outcomes.size(), 1u);
  EXPECT_GT(outcomes.count("ok") ? outcomes.at("ok") : 0, 0);
}

// The other direction: the client writes a large message and shuts its write side at once (its
// FIN joins the message's last segment). The echo backend must get the whole message (it echoes
// it), then sees the end of the stream and closes.
TEST_F(CleanCloseE2E, ClientFinRightBehindItsLastBytes) {
  constexpr std::size_t kSize = 256u << 10;
  start_agent();
  const auto outcomes = rounds("/", [&](Ws& ws, int id) -> awaitable<std::string> {
    const std::string msg = Pattern(static_cast<std::uint64_t>(id)).next(kSize);
    ws.binary(true);
    co_await ws.async_write(asio::buffer(msg), use_awaitable);
    beast::get_lowest_layer(ws).socket().shutdown(asio::socket_base::shutdown_send);
    beast::flat_buffer in;
    auto [ec, n] = co_await ws.async_read(in, kTuple);
    if (ec) co_return "no echo: " + ec.message();
    if (beast::buffers_to_string(in.data()) != msg) co_return "echo changed";
    // The backend closes its socket when it reads the end of the stream: a plain EOF here.
    auto [end_ec, m] = co_await ws.async_read(in, kTuple);
    co_return end_ec == asio::error::eof ? "ok" : "end: " + end_ec.message();
  });
  EXPECT_EQ(outcomes.size(), 1u);
  EXPECT_GT(outcomes.count("ok") ? outcomes.at("ok") : 0, 0);
}

// The bug the benchmark smoke tolerated: a backend streaming right behind its 101 fills its socket's
// queue before the splice, so at the kick the verdict passes the limit at once and asks the agent
// to relay (WSTEER_EVENT_HOLD) before the session has handed the flow to SplicedFlows. That event
// used to be dropped ("a flow that just ended"): the verdict then held the rest of the stream for
// good, the close frame included, and the client never got its clean close. A tiny limit makes
// every flow start that way.
TEST_F(CleanCloseE2E, FlowHoldingBeforeItIsAdoptedDeliversEverything) {
  constexpr std::size_t kSize = 1u << 20;
  start_agent({"--splice-buffer-limit", "65536"});
  const auto outcomes = rounds("/source/" + std::to_string(kSize), [&](Ws& ws, int) -> awaitable<std::string> {
    Pattern pattern(kSize);
    beast::flat_buffer in;
    std::size_t got = 0;
    bool intact = true;
    while (got < kSize) {
      auto [ec, n] = co_await ws.async_read(in, kTuple);
      if (ec) co_return "short stream: " + ec.message();
      const auto msg = beast::buffers_to_string(in.data());
      in.consume(in.size());
      intact &= pattern.next(msg.size()) == msg;
      got += msg.size();
    }
    if (!intact) co_return "corrupt stream";
    auto [close_ec] = co_await ws.async_close(websocket::close_code::normal, kTuple);
    co_return close_ec ? "close: " + close_ec.message() : "ok";
  });
  EXPECT_EQ(outcomes.size(), 1u);
  EXPECT_GT(outcomes.count("ok") ? outcomes.at("ok") : 0, 0);
  const auto m = agent_->metrics();
  std::cerr << "holds " << metric_sum(m, "wsteer_backpressure_holds_total") << "\n";
}

}  // namespace
}  // namespace wsteer::test
