// A task run on an io_context now and then every `period` until stop() (or destruction).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>

namespace wsteer::app {

class RepeatingTimer {
 public:
  RepeatingTimer(boost::asio::io_context& io, std::chrono::milliseconds period, std::function<void()> task)
      : timer_(io), period_(period), task_(std::move(task)) {}
  // Runs the task at once, then every period.
  void start() {
    task_();
    timer_.expires_after(period_);
    timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) start();
    });
  }
  void stop() { timer_.cancel(); }

 private:
  boost::asio::steady_timer timer_;
  std::chrono::milliseconds period_;
  std::function<void()> task_;
};

}  // namespace wsteer::app
