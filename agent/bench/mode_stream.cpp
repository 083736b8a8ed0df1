// stream: bulk throughput, measured on the receiving side.
//  down: the server streams /source?size=S, the client counts what it receives in the window.
//  up:   the client streams to /sink; two "stats" requests bracket the window and the server's
//        answers (its byte count and clock) give the rate the receiver saw.
#include "bench/client_modes.h"
#include "bench/mode_common.h"
#include "bench/sink_protocol.h"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include <optional>
#include <vector>

namespace wsteer::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
using namespace detail;

asio::awaitable<bool> run_stream_down(WsClient& ws, Conn& c) {
  auto& st = c.thread.stats;
  beast::flat_buffer in;
  ws.read_message_max(c.shared.options.size + 1024);
  for (;;) {
    auto [ec, n] = co_await ws.async_read(in, kUse);
    if (ec) co_return c.fail("read: " + ec.message());
    const auto t = now_ns();
    if (c.shared.window.done(t)) break;
    if (c.shared.window.count_message(t)) {
      st.add_relaxed(st.messages);
      st.add_relaxed(st.bytes, n);
    }
    in.consume(in.size());
  }
  co_return co_await finish(ws, c);  // the close drains what is still in flight
}

namespace {

asio::awaitable<std::optional<SinkStats>> read_stats(WsClient& ws, beast::flat_buffer& in) {
  auto [ec, n] = co_await ws.async_read(in, kUse);
  if (ec || !ws.got_text()) co_return std::nullopt;
  auto stats = parse_sink_stats(std::string_view(static_cast<const char*>(in.data().data()), in.size()));
  in.consume(in.size());
  co_return stats;
}

}  // namespace

asio::awaitable<bool> run_stream_up(WsClient& ws, Conn& c) {
  auto& st = c.thread.stats;
  const std::vector<char> payload(c.shared.options.size, 'u');
  // Client frames are masked into this buffer before they are written: larger means fewer writes.
  ws.write_buffer_bytes(std::clamp<std::size_t>(c.shared.options.size, 4096, 1u << 20));
  bool asked_start = false;
  auto ask = [&]() -> asio::awaitable<boost::system::error_code> {
    ws.text(true);
    auto [ec, n] = co_await ws.async_write(asio::buffer(kSinkStatsRequest.data(), kSinkStatsRequest.size()), kUse);
    ws.binary(true);
    co_return ec;
  };
  ws.binary(true);
  for (;;) {
    const auto t = now_ns();
    if (!asked_start && t >= c.shared.window.from()) {
      if (auto ec = co_await ask()) co_return c.fail("write: " + ec.message());
      asked_start = true;
    }
    if (c.shared.window.done(t)) break;
    auto [ec, n] = co_await ws.async_write(asio::buffer(payload), kUse);
    if (ec) co_return c.fail("write: " + ec.message());
    c.shared.window.count_message(now_ns());  // only for --messages; bytes come from the server
  }
  if (!asked_start) co_return co_await finish(ws, c);  // the window ended before it began (a signal)
  if (auto ec = co_await ask()) co_return c.fail("write: " + ec.message());
  beast::flat_buffer in;
  const auto first = co_await read_stats(ws, in);
  const auto last = co_await read_stats(ws, in);
  if (!first || !last || last->ns <= first->ns) co_return c.fail("sink: no stats answer from the server");
  const auto bytes = last->bytes - first->bytes;
  st.add_relaxed(st.bytes, bytes);
  st.add_relaxed(st.messages, last->messages - first->messages);
  st.receiver_bytes_per_second += static_cast<double>(bytes) * 1e9 / static_cast<double>(last->ns - first->ns);
  co_return co_await finish(ws, c);
}

}  // namespace wsteer::bench
