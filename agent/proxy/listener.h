// Accepts clients on one io_context and spreads their sessions over the worker io_contexts.
#pragma once

#include "proxy/proxy_context.h"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <vector>

namespace wsteer::proxy {

class Listener {
 public:
  // Binds and listens at once (throws boost::system::system_error with the address on failure),
  // unless a predecessor handed over a socket listening on `endpoint` (core/inherited_sockets.h):
  // then accepts on that one.
  Listener(boost::asio::io_context& accept_context, std::vector<boost::asio::io_context*> workers,
           const boost::asio::ip::tcp::endpoint& endpoint, ProxyContext& ctx);
  void start();
  void stop();  // closes the listening socket; sessions already accepted go on
  bool listening() const { return listening_.load(); }

  // Hand-off: stop accepting but keep the socket open, so connections queue in its backlog for
  // the successor (who gets a duplicate of native_handle()); resume() if the hand-off fails.
  // Both wait until the accept context has done it.
  void pause();
  void resume();
  // Hand-off, successor: accept nothing until resume() (called before the accept context runs).
  // Until the hand-off is done only the old agent accepts: a successor that dies meanwhile then
  // takes no client with it.
  void hold() {
    paused_ = true;
    listening_ = false;
  }
  int native_handle() { return acceptor_.native_handle(); }

 private:
  boost::asio::awaitable<void> accept_loop();

  boost::asio::io_context& accept_context_;
  std::vector<boost::asio::io_context*> workers_;
  boost::asio::ip::tcp::acceptor acceptor_;
  ProxyContext& ctx_;
  std::atomic<bool> listening_{false};
  bool paused_ = false;  // on the accept context only
};

}  // namespace wsteer::proxy
