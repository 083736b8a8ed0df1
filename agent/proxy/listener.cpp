#include "proxy/listener.h"

#include "proxy/session.h"

#include "core/inherited_sockets.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <future>

namespace wsteer::proxy {
namespace asio = boost::asio;
using asio::ip::tcp;

Listener::Listener(asio::io_context& accept_context, std::vector<asio::io_context*> workers,
                   const tcp::endpoint& endpoint, ProxyContext& ctx)
    : accept_context_(accept_context), workers_(std::move(workers)), acceptor_(accept_context), ctx_(ctx) {
  if (auto inherited = core::take_inherited_socket(core::tcp_socket_key(endpoint.address().to_string(), endpoint.port()))) {
    acceptor_.assign(endpoint.protocol(), inherited.release());
    spdlog::info("listening on {}:{}: socket taken over from the previous agent", endpoint.address().to_string(),
                 endpoint.port());
  } else {
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
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
      // Out of descriptors or memory: back off instead of spinning.
      spdlog::warn("accept failed: {}", ec.message());
      asio::steady_timer pause(accept_context_, std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    asio::co_spawn(worker, run_session(ctx_, std::move(socket)), asio::detached);
  }
  if (!paused_) listening_ = false;
}

}  // namespace wsteer::proxy
