// churn: connection setup rate. Each looper: TCP connect, handshake, one 64 B echo, close.
// Latency is the handshake (TCP connect through the 101).
#include "bench/client_modes.h"
#include "bench/mode_common.h"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include <array>

namespace wsteer::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
using namespace detail;

asio::awaitable<bool> run_churn(WsClient& first, Conn& c) {
  auto& st = c.thread.stats;
  auto& window = c.shared.window;
  if (!co_await close_ws(first, kCloseTimeout)) c.fail("close: no clean close from the server");
  const std::array<char, 64> payload{};
  beast::flat_buffer in;
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer backoff(ex);
  for (;;) {
    const auto t0 = now_ns();
    if (window.done(t0)) break;
    WsClient ws(ex);
    const auto r = co_await connect_ws(ws, c.shared.target);
    const auto t1 = now_ns();
    if (r.ec) {
      if (window.in_window(t1)) st.add_relaxed(st.handshakes_failed);
      window.note_error(r.what);
      backoff.expires_after(std::chrono::milliseconds(1));  // no busy loop against a closed port
      co_await backoff.async_wait(kUse);
      continue;
    }
    if (window.in_window(t1)) {
      st.add_relaxed(st.handshakes);
      st.latency.record(static_cast<std::uint64_t>(t1 - t0));
    }
    ws.binary(true);
    auto [wec, wn] = co_await ws.async_write(asio::buffer(payload), kUse);
    auto [rec, rn] = wec ? std::tuple{wec, std::size_t{0}} : co_await ws.async_read(in, kUse);
    if (wec || rec || rn != payload.size()) {
      c.fail("echo: " + (wec ? wec : rec).message());
      continue;
    }
    in.consume(in.size());
    if (window.count_message(now_ns())) {
      st.add_relaxed(st.messages);
      st.add_relaxed(st.bytes, rn);
    }
    if (!co_await close_ws(ws, kCloseTimeout)) c.fail("close: no clean close from the server");
  }
  co_return true;
}

}  // namespace wsteer::bench
