#include "proxy/listener.h"

#include "proxy/session.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

namespace wsteer::proxy {
namespace asio = boost::asio;
using asio::ip::tcp;

Listener::Listener(asio::io_context& accept_context, std::vector<asio::io_context*> workers,
                   const tcp::endpoint& endpoint, ProxyContext& ctx)
    : accept_context_(accept_context), workers_(std::move(workers)), acceptor_(accept_context), ctx_(ctx) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  listening_ = true;
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
  while (acceptor_.is_open()) {
    asio::io_context& worker = *workers_[next++ % workers_.size()];
    auto [ec, socket] = co_await acceptor_.async_accept(worker, asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted) break;
    if (ec) {
      // Out of descriptors or memory: back off instead of spinning.
      spdlog::warn("accept failed: {}", ec.message());
      asio::steady_timer pause(accept_context_, std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    asio::co_spawn(worker, run_session(ctx_, std::move(socket)), asio::detached);
  }
  listening_ = false;
}

}  // namespace wsteer::proxy
