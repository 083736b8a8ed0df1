#include "proxy/listener.h"

#include "metrics/agent_metrics.h"
#include "proxy/session.h"

#include "core/inherited_sockets.h"
#include "proxy/tcp_liveness.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <sys/resource.h>
#include <spdlog/spdlog.h>

#include <array>
#include <future>
#include <memory>
#include <string_view>

namespace wsteer::proxy {
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// Descriptors kept free for what a session needs after its accept (the backend socket), for the
// metrics and control servers, and for the 503s below.
constexpr int kDescriptorReserve = 32;

// Descriptors are handed out lowest first, so an accepted socket numbered within the reserve of
// RLIMIT_NOFILE means the table is nearly full.
bool near_descriptor_limit(int fd) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return false;
  return static_cast<rlim_t>(fd) + kDescriptorReserve >= limit.rlim_cur;
}

// Answers 503 (Retry-After: 1) and closes. The answer is written, the write side shut and the
// client's request read (up to 200 ms) before the close, so the close is a FIN: a close with
// unread bytes would reset the connection and could destroy the 503 before the client reads it.
asio::awaitable<void> refuse_without_descriptors(std::shared_ptr<tcp::socket> socket) {
  static constexpr std::string_view kAnswer =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nRetry-After: 1\r\n"
      "Connection: close\r\nContent-Length: 12\r\n\r\ndescriptors\n";
  auto [wec, wn] = co_await asio::async_write(*socket, asio::buffer(kAnswer), asio::as_tuple(asio::use_awaitable));
  boost::system::error_code ignored;
  socket->shutdown(tcp::socket::shutdown_send, ignored);
  asio::steady_timer deadline(socket->get_executor(), std::chrono::milliseconds(200));
  deadline.async_wait([socket](boost::system::error_code e) {  // shares the socket: it may run later
    boost::system::error_code ignore;
    if (!e) socket->cancel(ignore);
  });
  std::array<char, 4096> sink;
  for (;;) {  // until the client's FIN, an error, or the deadline's cancel
    auto [rec, rn] = co_await socket->async_read_some(asio::buffer(sink), asio::as_tuple(asio::use_awaitable));
    if (rec) break;
  }
  deadline.cancel();
  socket->close(ignored);
}

// Options each accepted socket inherits from the listening one (the kernel copies TCP_NODELAY,
// keepalive and TCP_USER_TIMEOUT into every child), so a session sets none of them again: six
// syscalls fewer per connection. Set before listen(), so no child is made without them.
void set_inherited_options(tcp::acceptor& acceptor, const ProxyConfig& cfg) {
  boost::system::error_code ignored;
  acceptor.set_option(tcp::no_delay(true), ignored);
  apply_tcp_liveness(acceptor.native_handle(), cfg);
}

}  // namespace


Listener::Listener(asio::io_context& accept_context, std::vector<asio::io_context*> workers,
                   const tcp::endpoint& endpoint, ProxyContext& ctx)
    : accept_context_(accept_context), workers_(std::move(workers)), acceptor_(accept_context), ctx_(ctx) {
  if (auto inherited = core::take_inherited_socket(core::tcp_socket_key(endpoint.address().to_string(), endpoint.port()))) {
    acceptor_.assign(endpoint.protocol(), inherited.release());
    set_inherited_options(acceptor_, ctx.config);
    spdlog::info("listening on {}:{}: socket taken over from the previous agent", endpoint.address().to_string(),
                 endpoint.port());
  } else {
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    set_inherited_options(acceptor_, ctx.config);
    acceptor_.listen(asio::socket_base::max_listen_connections);
  }
  listening_ = true;
}

void Listener::pause() {
  std::promise<void> done;
  asio::post(accept_context_, [&] {
    paused_ = true;
    boost::system::error_code ignored;
    acceptor_.cancel(ignored);  // the accept loop ends; the socket and its backlog stay
    listening_ = false;
    done.set_value();
  });
  done.get_future().wait();
}

void Listener::resume() {
  std::promise<void> done;
  asio::post(accept_context_, [&] {
    if (paused_ && acceptor_.is_open()) {
      paused_ = false;
      listening_ = true;
      asio::co_spawn(accept_context_, accept_loop(), asio::detached);
    }
    done.set_value();
  });
  done.get_future().wait();
}

void Listener::start() { asio::co_spawn(accept_context_, accept_loop(), asio::detached); }

void Listener::stop() {
  asio::post(accept_context_, [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    listening_ = false;
  });
}

asio::awaitable<void> Listener::accept_loop() {
  std::size_t next = 0;
  while (acceptor_.is_open() && !paused_) {
    asio::io_context& worker = *workers_[next++ % workers_.size()];
    auto [ec, socket] = co_await acceptor_.async_accept(worker, asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted) break;
    if (!ec && paused_) {
      // Accepted just as the hand-off paused us: still ours to serve (it is spliced and handed
      // over like the others), never dropped.
      asio::co_spawn(worker, run_session(ctx_, std::move(socket)), asio::detached);
      break;
    }
    if (ec) {
      // Out of descriptors (despite the reserve below) or memory: back off instead of spinning.
      spdlog::warn("accept failed: {}", ec.message());
      asio::steady_timer pause(accept_context_, std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    if (near_descriptor_limit(socket.native_handle())) {
      // A client that would wait in the backlog unanswered once accept() fails gets a clear 503.
      ctx_.metrics.connection(metrics::Result::unavailable, "descriptors");
      spdlog::warn("near the descriptor limit (RLIMIT_NOFILE): answered a client 503");
      asio::co_spawn(worker, refuse_without_descriptors(std::make_shared<tcp::socket>(std::move(socket))), asio::detached);
      continue;
    }
    asio::co_spawn(worker, run_session(ctx_, std::move(socket)), asio::detached);
  }
  if (!paused_) listening_ = false;
}

}  // namespace wsteer::proxy
