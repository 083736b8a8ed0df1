#include "app/graceful_shutdown.h"

#include <spdlog/spdlog.h>

#include <csignal>

namespace wsteer::app {

GracefulShutdown::GracefulShutdown(boost::asio::io_context& io, std::chrono::seconds grace, Steps steps)
    : signals_(io, SIGTERM, SIGINT), poll_(io), grace_(grace), steps_(std::move(steps)) {}

void GracefulShutdown::arm() {
  signals_.async_wait([this](boost::system::error_code ec, int signo) {
    if (ec) return;
    spdlog::info("signal {}: no new connections; {} open, grace {} s", signo, steps_.open_connections(), grace_.count());
    steps_.stop_accepting();
    deadline_ = std::chrono::steady_clock::now() + grace_;
    signals_.async_wait([this](boost::system::error_code ec2, int) {  // a second signal: stop now
      if (!ec2) deadline_ = std::chrono::steady_clock::now();
    });
    wait_for_connections();
  });
}

void GracefulShutdown::wait_for_connections() {
  const auto open = steps_.open_connections();
  if (open == 0 || std::chrono::steady_clock::now() >= deadline_) {
    if (open > 0) spdlog::warn("shutdown grace period over: closing {} connections", open);
    signals_.cancel();
    steps_.finish();
    return;
  }
  poll_.expires_after(std::chrono::milliseconds(100));
  poll_.async_wait([this](boost::system::error_code) { wait_for_connections(); });
}

}  // namespace wsteer::app
