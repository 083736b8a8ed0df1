#include "bench/server.h"

#include "bench/sink_protocol.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/url/parse.hpp>

#include <charconv>
#include <condition_variable>
#include <mutex>
#include <chrono>
#include <thread>
#include <vector>

namespace wsteer::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::ip::tcp;
using Ws = websocket::stream<tcp::socket>;  // no per-operation timers: the server never gives up
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

constexpr std::size_t kMaxMessage = std::size_t{512} << 20;

void tune(Ws& ws) {
  ws.auto_fragment(false);  // one frame per message: no extra headers or writes
  ws.read_message_max(kMaxMessage);
}

asio::awaitable<void> echo(Ws& ws, beast::flat_buffer& buffer) {
  // The buffer keeps its capacity across messages, so steady-state echo does not allocate.
  for (;;) {
    auto [ec, n] = co_await ws.async_read(buffer, kUse);
    if (ec) co_return;
    ws.text(ws.got_text());
    auto [wec, wn] = co_await ws.async_write(buffer.data(), kUse);
    if (wec) co_return;
    buffer.consume(buffer.size());
  }
}

asio::awaitable<void> sink(Ws& ws, beast::flat_buffer& buffer) {
  SinkStats stats;
  std::string reply;
  for (;;) {
    auto [ec, n] = co_await ws.async_read(buffer, kUse);
    if (ec) co_return;
    const std::string_view payload(static_cast<const char*>(buffer.data().data()), buffer.size());
    if (ws.got_text() && payload == kSinkStatsRequest) {
      stats.ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::steady_clock::now().time_since_epoch()).count();
      reply = format_sink_stats(stats);
      ws.text(true);
      auto [wec, wn] = co_await ws.async_write(asio::buffer(reply), kUse);
      if (wec) co_return;
    } else {
      stats.bytes += buffer.size();
      ++stats.messages;
    }
    buffer.consume(buffer.size());
  }
}

asio::awaitable<void> source_writer(std::shared_ptr<Ws> ws, std::size_t size) {
  const std::vector<char> payload(size, 'w');  // server frames are unmasked: written straight from here
  ws->binary(true);
  for (;;) {
    auto [ec, n] = co_await ws->async_write(asio::buffer(payload), kUse);
    if (ec) co_return;
  }
}

asio::awaitable<void> source(std::shared_ptr<Ws> ws, beast::flat_buffer& buffer, std::size_t size) {
  // Not co_spawn(co_await ..., ...): GCC 12 can destroy the temporaries of a call that suspends
  // in its arguments twice (found by ASan in a test of the same shape).
  const auto ex = co_await asio::this_coro::executor;
  asio::co_spawn(ex, source_writer(ws, size), asio::detached);
  // Reading is what notices the client's close (and answers it); anything else is discarded.
  for (;;) {
    auto [ec, n] = co_await ws->async_read(buffer, kUse);
    if (ec) co_return;
    buffer.consume(buffer.size());
  }
}

asio::awaitable<void> refuse(tcp::socket& socket, http::status status, std::string body) {
  http::response<http::string_body> res{status, 11};
  res.set(http::field::content_type, "text/plain");
  res.keep_alive(false);
  res.body() = std::move(body);
  res.prepare_payload();
  co_await http::async_write(socket, res, kUse);
}

asio::awaitable<void> session(tcp::socket socket) {
  socket.set_option(tcp::no_delay(true));
  beast::flat_buffer buffer;
  http::request<http::empty_body> req;
  auto [ec, n] = co_await http::async_read(socket, buffer, req, kUse);
  if (ec) co_return;
  auto target = boost::urls::parse_origin_form(req.target());
  if (!target) {
    co_await refuse(socket, http::status::bad_request, "bad request target\n");
    co_return;
  }
  const std::string path = target->path();
  enum { kEcho, kSource, kSink } kind;
  std::size_t size = 16384;
  if (path == "/" || path == "/echo") {
    kind = kEcho;
  } else if (path == "/sink") {
    kind = kSink;
  } else if (path == "/source") {
    kind = kSource;
    auto it = target->params().find("size");
    if (it != target->params().end()) {
      const std::string v = (*it).value;
      auto [p, err] = std::from_chars(v.data(), v.data() + v.size(), size);
      if (err != std::errc{} || p != v.data() + v.size() || size == 0 || size > kMaxMessage) {
        co_await refuse(socket, http::status::bad_request, "size must be 1.." + std::to_string(kMaxMessage) + "\n");
        co_return;
      }
    }
  } else {
    co_await refuse(socket, http::status::not_found, "paths: / /echo /source?size=S /sink\n");
    co_return;
  }
  if (!websocket::is_upgrade(req)) {
    co_await refuse(socket, http::status::upgrade_required, "WebSocket only\n");
    co_return;
  }
  auto ws = std::make_shared<Ws>(std::move(socket));
  tune(*ws);
  buffer.consume(buffer.size());  // a client sends nothing before the 101
  auto [aec] = co_await ws->async_accept(req, kUse);
  if (aec) co_return;
  switch (kind) {
    case kEcho: co_await echo(*ws, buffer); break;
    case kSink: co_await sink(*ws, buffer); break;
    case kSource: co_await source(ws, buffer, size); break;
  }
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kUse);
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {  // EMFILE and friends: back off instead of spinning
      asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(10));
      co_await pause.async_wait(kUse);
      continue;
    }
    asio::co_spawn(acceptor.get_executor(), session(std::move(socket)), asio::detached);
  }
}

}  // namespace

struct BenchServer::Impl {
  struct Worker {
    asio::io_context io{1};
    tcp::acceptor acceptor{io};
  };
  asio::io_context probe_io;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::thread> threads;
  unsigned short port = 0;
  std::mutex mutex;
  std::condition_variable stopped_cv;
  bool stopped = false;
};

BenchServer::BenchServer(const ServerOptions& options) : impl_(std::make_unique<Impl>()) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(options.address, ec);
  if (ec) throw std::system_error(ec, "bad address '" + options.address + "'");
  tcp::endpoint endpoint(address, options.port);
  if (options.port != 0) {
    // SO_REUSEPORT lets a second server of the same user share the port silently; a plain bind
    // first turns "already in use" into an error instead.
    tcp::acceptor probe(impl_->probe_io);
    probe.open(endpoint.protocol());
    probe.set_option(asio::socket_base::reuse_address(true));
    probe.bind(endpoint, ec);
    if (ec) throw std::system_error(ec, "cannot listen on " + options.address + ":" + std::to_string(options.port));
  }
  for (int i = 0; i < options.threads; ++i) {
    auto w = std::make_unique<Impl::Worker>();
    w->acceptor.open(endpoint.protocol());
    w->acceptor.set_option(asio::socket_base::reuse_address(true));
    w->acceptor.set_option(reuse_port(true));
    w->acceptor.bind(endpoint, ec);
    if (ec) throw std::system_error(ec, "cannot listen on " + options.address + ":" + std::to_string(options.port));
    w->acceptor.listen(asio::socket_base::max_listen_connections);
    if (i == 0) endpoint = w->acceptor.local_endpoint();  // port 0: the others join the chosen port
    asio::co_spawn(w->io, accept_loop(w->acceptor), asio::detached);
    impl_->workers.push_back(std::move(w));
  }
  impl_->port = endpoint.port();
  for (auto& w : impl_->workers) impl_->threads.emplace_back([io = &w->io] { io->run(); });
}

BenchServer::~BenchServer() {
  stop();
  for (auto& t : impl_->threads) t.join();
}

unsigned short BenchServer::port() const { return impl_->port; }

void BenchServer::stop() {
  for (auto& w : impl_->workers) w->io.stop();
  std::lock_guard lock(impl_->mutex);
  impl_->stopped = true;
  impl_->stopped_cv.notify_all();
}

void BenchServer::wait() {
  std::unique_lock lock(impl_->mutex);
  impl_->stopped_cv.wait(lock, [&] { return impl_->stopped; });
}

}  // namespace wsteer::bench
