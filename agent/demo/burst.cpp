#include "demo/burst.h"

#include "demo/beast_key_fix.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

namespace wsteer::demo {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::ip::tcp;

namespace {

asio::awaitable<void> one_client(const std::string& host, unsigned short port, int i, BurstResult& result) {
  websocket::stream<beast::tcp_stream> ws(co_await asio::this_coro::executor);
  beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(5));
  co_await beast::get_lowest_layer(ws).async_connect(tcp::endpoint(asio::ip::make_address(host), port),
                                                     asio::use_awaitable);
  beast::get_lowest_layer(ws).expires_never();
  ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
  websocket::response_type res;
  fresh_beast_client_key();
  co_await ws.async_handshake(res, host, "/demo", asio::use_awaitable);
  const std::string msg = "hello from client " + std::to_string(i);
  co_await ws.async_write(asio::buffer(msg), asio::use_awaitable);
  beast::flat_buffer buffer;
  co_await ws.async_read(buffer, asio::use_awaitable);
  if (beast::buffers_to_string(buffer.data()) == msg) {
    ++result.echoed;
    ++result.per_backend[std::string(res["X-Wsteer-Backend"])];
  } else {
    ++result.failed;
  }
  co_await ws.async_close(websocket::close_code::normal, asio::use_awaitable);
}

}  // namespace

BurstResult run_burst(const std::string& host, unsigned short port, int connections) {
  asio::io_context io;
  BurstResult result;
  for (int i = 0; i < connections; ++i)
    asio::co_spawn(io, one_client(host, port, i, result), [&](std::exception_ptr e) {
      if (e) ++result.failed;
    });
  io.run_for(std::chrono::seconds(60));
  return result;
}

}  // namespace wsteer::demo
