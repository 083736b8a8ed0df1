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
  // Binds and listens at once (throws boost::system::system_error with the address on failure).
  Listener(boost::asio::io_context& accept_context, std::vector<boost::asio::io_context*> workers,
           const boost::asio::ip::tcp::endpoint& endpoint, ProxyContext& ctx);
  void start();
  void stop();  // closes the listening socket; sessions already accepted go on
  bool listening() const { return listening_.load(); }

 private:
  boost::asio::awaitable<void> accept_loop();

  boost::asio::io_context& accept_context_;
  std::vector<boost::asio::io_context*> workers_;
  boost::asio::ip::tcp::acceptor acceptor_;
  ProxyContext& ctx_;
  std::atomic<bool> listening_{false};
};

}  // namespace wsteer::proxy
