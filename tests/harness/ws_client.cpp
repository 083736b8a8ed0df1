#include "harness/ws_client.h"

#include "demo/beast_key_fix.h"
#include "harness/netns.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <stdexcept>

namespace wsteer::test {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::ip::tcp;

asio::awaitable<Connected> connect_ws(const std::string& host, unsigned short port, const std::string& target,
                                      const Headers& headers) {
  auto executor = co_await asio::this_coro::executor;
  Connected out;
  out.ws = std::make_unique<Ws>(executor);
  auto& ws = *out.ws;
  ws.read_message_max(300u << 20);
  beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(10));
  co_await beast::get_lowest_layer(ws).async_connect(tcp::endpoint(asio::ip::make_address(host), port),
                                                     asio::use_awaitable);
  beast::get_lowest_layer(ws).expires_never();
  ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
  ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
    for (const auto& [name, value] : headers) req.set(name, value);
  }));
  websocket::response_type res;
  demo::fresh_beast_client_key();
  co_await ws.async_handshake(res, host, target, asio::use_awaitable);
  out.backend = std::string(res["X-Wsteer-Backend"]);
  out.set_cookie = std::string(res[http::field::set_cookie]);
  co_return out;
}

asio::awaitable<std::string> round_trip(Ws& ws, const std::string& message, bool binary) {
  ws.binary(binary);
  co_await ws.async_write(asio::buffer(message), asio::use_awaitable);
  beast::flat_buffer buffer;
  co_await ws.async_read(buffer, asio::use_awaitable);
  co_return beast::buffers_to_string(buffer.data());
}

void run_in_netns(const std::string& netns, std::chrono::milliseconds limit,
                  const std::function<asio::awaitable<void>()>& task) {
  asio::io_context io;
  run_in_netns(io, netns, limit, task);
}

void run_in_netns(asio::io_context& io, const std::string& netns, std::chrono::milliseconds limit,
                  const std::function<asio::awaitable<void>()>& task) {
  NetnsGuard guard(netns);
  io.restart();
  std::exception_ptr error;
  bool done = false;
  asio::co_spawn(io, task(), [&](std::exception_ptr e) {
    error = e;
    done = true;
  });
  io.run_for(limit);
  if (error) std::rethrow_exception(error);
  if (!done) throw std::runtime_error("timed out after " + std::to_string(limit.count()) + " ms");
}

std::string HttpReply::header(const std::string& name) const {
  for (const auto& [n, v] : headers)
    if (beast::iequals(n, name)) return v;
  return {};
}

HttpReply http_exchange(const std::string& netns, const std::string& host, unsigned short port,
                        const std::string& raw_request, std::chrono::milliseconds limit) {
  HttpReply reply;
  run_in_netns(netns, limit, [&]() -> asio::awaitable<void> {
    beast::tcp_stream stream(co_await asio::this_coro::executor);
    co_await stream.async_connect(tcp::endpoint(asio::ip::make_address(host), port), asio::use_awaitable);
    co_await asio::async_write(stream, asio::buffer(raw_request), asio::use_awaitable);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64u << 20);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;  // closed without an answer
    const auto& res = parser.get();
    reply.status = res.result_int();
    reply.body = res.body();
    for (const auto& field : res) reply.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  });
  return reply;
}

}  // namespace wsteer::test
