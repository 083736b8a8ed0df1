#include "demo/echo_server.h"

#include "demo/http_endpoints.h"
#include "demo/pattern.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <openssl/sha.h>

#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>

namespace wsteer::demo {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::ip::tcp;
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

long long monotonic_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// "slowsink N RATE PAUSE_MS": a slow reader. Waits PAUSE_MS, then reads N bytes of binary
// messages at no more than RATE bytes/s, checks them against Pattern(N), answers "sunk N ok" (or
// "sunk N bad") and prints "sunk N at T" (steady clock, ms) when the last byte was read.
asio::awaitable<bool> slow_sink(websocket::stream<beast::tcp_stream>& ws, beast::flat_buffer& buffer,
                                const std::string& command) {
  std::istringstream in(command.substr(9));
  std::size_t total = 0, rate = 0, pause_ms = 0;
  in >> total >> rate >> pause_ms;
  asio::steady_timer timer(ws.get_executor());
  timer.expires_after(std::chrono::milliseconds(pause_ms));
  co_await timer.async_wait(kUse);
  Pattern expected(total);
  bool intact = true;
  std::size_t received = 0;
  const auto start = std::chrono::steady_clock::now();
  while (received < total) {
    auto [ec, n] = co_await ws.async_read(buffer, kUse);
    if (ec) co_return false;
    const std::string got = beast::buffers_to_string(buffer.data());
    buffer.consume(buffer.size());
    intact &= got == expected.next(got.size());
    received += got.size();
    timer.expires_at(start + std::chrono::microseconds(received * 1'000'000 / std::max<std::size_t>(rate, 1)));
    co_await timer.async_wait(kUse);
  }
  std::printf("sunk %zu at %lld\n", received, monotonic_ms());
  std::fflush(stdout);
  ws.text(true);
  const std::string reply = "sunk " + std::to_string(received) + (intact ? " ok" : " bad");
  auto [wec, wn] = co_await ws.async_write(asio::buffer(reply), kUse);
  co_return !wec;
}

asio::awaitable<void> serve_ws(tcp::socket socket, std::string name) {
  beast::flat_buffer buffer;
  http::request_parser<http::empty_body> head;
  head.body_limit(boost::none);
  auto [read_ec, read_n] = co_await http::async_read_header(socket, buffer, head, kUse);
  if (read_ec) co_return;
  if (!head.get().count(http::field::upgrade)) {  // plain HTTP (demo/http_endpoints.h)
    co_await serve_plain_http(socket, buffer, head, name);
    co_return;
  }
  auto req = head.release();
  if (req.target() == "/reject") {  // a backend that refuses the upgrade
    http::response<http::string_body> res{http::status::forbidden, 11};
    res.set("X-Wsteer-Backend", name);
    res.body() = "no entry\n";
    res.prepare_payload();
    co_await http::async_write(socket, res, kUse);
    co_return;
  }
  websocket::stream<beast::tcp_stream> ws(std::move(socket));
  ws.read_message_max(300u << 20);
  // One frame per message, however large: Beast's default cuts messages into 4 KiB frames, which
  // would hide frames longer than an skb from the tests that track frame boundaries (rebalance).
  ws.auto_fragment(false);
  ws.set_option(websocket::stream_base::decorator(
      [name](websocket::response_type& res) { res.set("X-Wsteer-Backend", name); }));
  auto [accept_ec] = co_await ws.async_accept(req, kUse);
  if (accept_ec) co_return;
  buffer.consume(buffer.size());  // clients send nothing before the 101
  if (req.target().starts_with("/source/")) {
    // Streams Pattern(N) right behind the 101, before the client says anything.
    std::size_t left = std::stoull(std::string(req.target().substr(8)));
    Pattern pattern(left);
    ws.binary(true);
    while (left > 0) {
      const std::size_t chunk = std::min<std::size_t>(left, 16 * 1024);
      auto [wec, wn] = co_await ws.async_write(asio::buffer(pattern.next(chunk)), kUse);
      if (wec) co_return;
      left -= chunk;
    }
  }
  for (;;) {
    auto [ec, n] = co_await ws.async_read(buffer, kUse);
    if (ec == websocket::error::closed) {
      std::printf("client-closed %d %s\n", static_cast<int>(ws.reason().code), ws.reason().reason.c_str());
      std::fflush(stdout);
      co_return;
    }
    if (ec) co_return;
    const bool text = ws.got_text();
    const std::string msg = beast::buffers_to_string(buffer.data());
    buffer.consume(buffer.size());
    if (text && msg == "whoami") {
      ws.text(true);
      co_await ws.async_write(asio::buffer(name), kUse);
    } else if (text && msg.rfind("stream ", 0) == 0) {
      std::istringstream in(msg.substr(7));
      std::size_t total = 0, rate = 0;
      in >> total >> rate;
      std::size_t left = total;
      Pattern pattern(left);
      ws.binary(true);
      // Paced: 64 KiB frames, each sent when `rate` says it is due.
      const std::size_t frame = rate ? 64u << 10 : 1u << 20;
      const auto start = std::chrono::steady_clock::now();
      asio::steady_timer timer(ws.get_executor());
      while (left > 0) {
        const std::size_t chunk = std::min<std::size_t>(left, frame);
        auto [wec, wn] = co_await ws.async_write(asio::buffer(pattern.next(chunk)), kUse);
        if (wec) co_return;
        left -= chunk;
        if (rate) {
          timer.expires_at(start + std::chrono::microseconds((total - left) * 1'000'000 / rate));
          co_await timer.async_wait(kUse);
        }
      }
      std::printf("streamed %zu at %lld\n", total, monotonic_ms());
      std::fflush(stdout);
    } else if (text && msg.rfind("slowsink ", 0) == 0) {
      if (!co_await slow_sink(ws, buffer, msg)) co_return;
    } else if (text && msg.rfind("close ", 0) == 0) {
      const auto space = msg.find(' ', 6);
      websocket::close_reason reason(static_cast<websocket::close_code>(std::stoi(msg.substr(6, space - 6))),
                                     space == std::string::npos ? "" : msg.substr(space + 1));
      co_await ws.async_close(reason, kUse);
      co_return;
    } else {
      ws.text(text);
      auto [wec, wn] = co_await ws.async_write(asio::buffer(msg), kUse);
      if (wec) co_return;
    }
  }
}

std::string accept_key(const std::string& key) {
  const std::string input = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  std::string out(beast::detail::base64::encoded_size(sizeof(digest)), '\0');
  out.resize(beast::detail::base64::encode(out.data(), digest, sizeof(digest)));
  return out;
}

// The 101 and an unmasked text frame "first" in a single write, so they share a TCP segment.
asio::awaitable<void> serve_first_frame(tcp::socket socket, std::string name) {
  beast::flat_buffer buffer;
  http::request<http::empty_body> req;
  auto [ec, n] = co_await http::async_read(socket, buffer, req, kUse);
  if (ec) co_return;
  const std::string head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: " + accept_key(std::string(req["Sec-WebSocket-Key"])) +
                           "\r\nX-Wsteer-Backend: " + name + "\r\n\r\n";
  const std::string bytes = head + std::string("\x81\x05" "first", 7);
  co_await asio::async_write(socket, asio::buffer(bytes), kUse);
  char sink[4096];
  for (;;) {  // hold the connection until the client goes away
    auto [rec, rn] = co_await socket.async_read_some(asio::buffer(sink), kUse);
    if (rec) co_return;
  }
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, std::string name, bool first_frame) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kUse);
    if (ec) continue;
    auto exec = acceptor.get_executor();
    if (first_frame)
      asio::co_spawn(exec, serve_first_frame(std::move(socket), name), asio::detached);
    else
      asio::co_spawn(exec, serve_ws(std::move(socket), name), asio::detached);
  }
}

}  // namespace

void run_echo_server(const std::string& name, const std::string& address, unsigned short port, bool first_frame) {
  asio::io_context io;
  tcp::acceptor acceptor(io);
  const tcp::endpoint endpoint(asio::ip::make_address(address), port);
  acceptor.open(endpoint.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(asio::socket_base::max_listen_connections);
  std::printf("listening %s on %s:%u\n", name.c_str(), address.c_str(), port);
  std::fflush(stdout);
  asio::co_spawn(io, accept_loop(acceptor, name, first_frame), asio::detached);
  io.run();
}

}  // namespace wsteer::demo
