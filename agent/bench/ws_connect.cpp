#include "bench/ws_connect.h"

#include "bench/mode_common.h"
#include "demo/beast_key_fix.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/websocket.hpp>

namespace wsteer::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using detail::kUse;

asio::awaitable<ConnectResult> connect_ws(WsClient& ws, const ConnectTarget& to) {
  auto& tcp = beast::get_lowest_layer(ws);
  tcp.expires_after(to.timeout);
  auto [cec] = co_await tcp.async_connect(to.endpoint, kUse);
  if (cec) co_return ConnectResult{cec, "connect: " + cec.message()};
  boost::system::error_code ignored;
  tcp.socket().set_option(asio::ip::tcp::no_delay(true), ignored);
  ws.auto_fragment(false);
  wsteer::demo::fresh_beast_client_key();
  websocket::response_type res;
  auto [hec] = co_await ws.async_handshake(res, to.host_header, to.target, kUse);
  if (hec) {
    std::string what = "handshake: " + hec.message();
    if (res.result_int() != 0 && res.result() != beast::http::status::switching_protocols)
      what += " (HTTP " + std::to_string(res.result_int()) + ")";
    co_return ConnectResult{hec, what};
  }
  tcp.expires_never();
  co_return ConnectResult{};
}

asio::awaitable<bool> close_ws(WsClient& ws, std::chrono::milliseconds timeout) {
  beast::get_lowest_layer(ws).expires_after(timeout);
  auto [ec] = co_await ws.async_close(websocket::close_code::normal, kUse);
  co_return !ec;
}

namespace detail {

asio::awaitable<bool> finish(WsClient& ws, Conn& c) {
  const bool clean = co_await close_ws(ws, kCloseTimeout);
  co_return clean || c.fail("close: no clean close from the server");
}

}  // namespace detail
}  // namespace wsteer::bench
