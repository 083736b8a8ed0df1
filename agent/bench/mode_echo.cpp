// pingpong, open and idle: messages echoed by the server, latency per message.
#include "bench/client_modes.h"
#include "bench/mode_common.h"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include <deque>
#include <vector>

namespace wsteer::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
using namespace detail;

namespace {

// One measured echo: counted if it arrived inside the window (and under --messages).
void measured_echo(Conn& c, std::int64_t sent_ns, std::int64_t received_ns, std::size_t bytes) {
  auto& st = c.thread.stats;
  if (!c.shared.window.count_message(received_ns)) return;
  st.latency.record(static_cast<std::uint64_t>(std::max<std::int64_t>(0, received_ns - sent_ns)));
  st.add_relaxed(st.messages);
  st.add_relaxed(st.bytes, bytes);
}

}  // namespace

// Closed loop: send, wait for the echo, repeat. Latency is the round trip.
asio::awaitable<bool> run_pingpong(WsClient& ws, Conn& c) {
  const std::vector<char> payload(c.shared.options.size, 'p');
  beast::flat_buffer in;
  ws.binary(true);
  for (;;) {
    const auto t0 = now_ns();
    if (c.shared.window.done(t0)) break;
    auto [wec, wn] = co_await ws.async_write(asio::buffer(payload), kUse);
    if (wec) co_return c.fail("write: " + wec.message());
    auto [rec, rn] = co_await ws.async_read(in, kUse);
    if (rec) co_return c.fail("read: " + rec.message());
    if (rn != payload.size()) co_return c.fail("echo of " + std::to_string(rn) + " bytes, sent " + std::to_string(payload.size()));
    measured_echo(c, t0, now_ns(), rn);
    in.consume(in.size());
  }
  co_return co_await finish(ws, c);
}

// Trickle: one message every 1/R s, waiting for its echo; a late echo skips the missed slots.
asio::awaitable<bool> run_idle(WsClient& ws, Conn& c) {
  const std::vector<char> payload(c.shared.options.size, 'i');
  beast::flat_buffer in;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const auto period = period_ns(c.shared.options.rate);
  ws.binary(true);
  for (auto next = now_ns() + phase_ns(period, c.index);; next += period) {
    if (c.shared.window.done(next)) break;
    timer.expires_at(at(next));
    co_await timer.async_wait(kUse);
    const auto t0 = now_ns();
    auto [wec, wn] = co_await ws.async_write(asio::buffer(payload), kUse);
    if (wec) co_return c.fail("write: " + wec.message());
    auto [rec, rn] = co_await ws.async_read(in, kUse);
    if (rec) co_return c.fail("read: " + rec.message());
    const auto t1 = now_ns();
    measured_echo(c, t0, t1, rn);
    in.consume(in.size());
    while (next + period < t1) next += period;
  }
  co_return co_await finish(ws, c);
}

namespace {

struct OpenLoop {
  std::deque<std::int64_t> scheduled;  // send times of the messages still waiting for their echo
  bool writer_done = false;
  bool failed = false;
  bool closed = false;                 // the close handshake completed (on either coroutine)
  asio::steady_timer drained;          // the writer waits on it for the last echoes
  explicit OpenLoop(asio::any_io_executor ex) : drained(ex, Clock::time_point::max()) {}
};

asio::awaitable<void> open_writer(WsClient& ws, Conn& c, OpenLoop& s) {
  const std::vector<char> payload(c.shared.options.size, 'o');
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const auto period = period_ns(c.shared.options.rate);
  ws.binary(true);
  for (auto next = now_ns() + phase_ns(period, c.index); !s.failed; next += period) {
    if (c.shared.window.done(next)) break;
    if (next > now_ns()) {  // behind schedule: send at once, the latency still counts from `next`
      timer.expires_at(at(next));
      co_await timer.async_wait(kUse);
    }
    s.scheduled.push_back(next);
    auto [ec, n] = co_await ws.async_write(asio::buffer(payload), kUse);
    if (ec) {
      if (!s.failed) c.fail("write: " + ec.message());
      s.failed = true;
      co_return;
    }
  }
  s.writer_done = true;
  while (!s.failed && !s.scheduled.empty()) co_await s.drained.async_wait(kUse);
  // With no echo outstanding the reader may still wait in a read: closing now is what ends it
  // (it completes with `closed` once the server answers the close).
  if (!s.failed && co_await close_ws(ws, kCloseTimeout)) s.closed = true;
}

asio::awaitable<void> open_reader(WsClient& ws, Conn& c, OpenLoop& s) {
  beast::flat_buffer in;
  while (!(s.writer_done && s.scheduled.empty())) {
    auto [ec, n] = co_await ws.async_read(in, kUse);
    if (ec == beast::websocket::error::closed && s.writer_done && s.scheduled.empty()) {
      s.closed = true;
      co_return;
    }
    if (ec) {
      if (!s.failed) c.fail("read: " + ec.message());
      s.failed = true;
      s.drained.cancel();
      co_return;
    }
    const auto t1 = now_ns();
    if (s.scheduled.empty()) {
      s.failed = true;
      c.fail("an echo nobody asked for");
      co_return;
    }
    measured_echo(c, s.scheduled.front(), t1, n);
    s.scheduled.pop_front();
    in.consume(in.size());
  }
  s.drained.cancel();
}

}  // namespace

// Open loop: sends on a fixed schedule regardless of echoes; latency counts from the scheduled
// send time, so a stalled server shows up in the percentiles instead of slowing the sender.
asio::awaitable<bool> run_open(WsClient& ws, Conn& c) {
  using namespace asio::experimental::awaitable_operators;
  OpenLoop s(co_await asio::this_coro::executor);
  co_await (open_writer(ws, c, s) && open_reader(ws, c, s));
  if (s.failed) {
    beast::get_lowest_layer(ws).close();
    co_return false;
  }
  co_return s.closed || c.fail("close: no clean close from the server");
}

}  // namespace wsteer::bench
