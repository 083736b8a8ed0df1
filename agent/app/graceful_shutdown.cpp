#include "app/graceful_shutdown.h"

#include <spdlog/spdlog.h>

#include <csignal>
#include <string>
#include <utility>

namespace wsteer::app {

GracefulShutdown::GracefulShutdown(boost::asio::io_context& io, std::chrono::seconds grace, Steps steps)
    : signals_(io, SIGTERM, SIGINT), poll_(io), grace_(grace), steps_(std::move(steps)) {}

void GracefulShutdown::arm() {
  signals_.async_wait([this](boost::system::error_code ec, int signo) {
    if (ec) return;
    if (begun_)
      deadline_ = std::chrono::steady_clock::now();  // a second signal: stop now
    else
      begin("signal " + std::to_string(signo));
    arm();
  });
}

void GracefulShutdown::begin(const std::string& why) {
  if (std::exchange(begun_, true)) return;
  spdlog::info("{}: no new connections; {} open, grace {} s", why, steps_.open_connections(), grace_.count());
  steps_.stop_accepting();
  deadline_ = std::chrono::steady_clock::now() + grace_;
  wait_for_connections();
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
