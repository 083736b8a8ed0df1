// The agent's small HTTP server: /metrics (Prometheus text), /healthz, /readyz.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <functional>
#include <string>

namespace wsteer::admin {

struct AdminHandlers {
  std::function<std::string()> metrics;  // text exposition format
  std::function<bool(std::string& why)> healthy;  // process up, programs attached
  std::function<bool(std::string& why)> ready;    // endpoints loaded, listener open
};

class AdminServer {
 public:
  // Binds at once; throws boost::system::system_error on failure.
  AdminServer(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint, AdminHandlers handlers);
  void start();
  void stop();

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  AdminHandlers handlers_;
};

}  // namespace wsteer::admin
