// SIGTERM/SIGINT (or begin(), e.g. after a hand-off): stop accepting, let open connections end
// within the grace period, then finish. A signal after that ends the grace period at once.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace wsteer::app {

class GracefulShutdown {
 public:
  struct Steps {
    std::function<void()> stop_accepting;           // at the first signal
    std::function<std::int64_t()> open_connections;  // polled every 100 ms during the grace period
    std::function<void()> finish;                    // once none is open or the grace period is over
  };
  GracefulShutdown(boost::asio::io_context& io, std::chrono::seconds grace, Steps steps);
  void arm();
  void begin(const std::string& why);

 private:
  void wait_for_connections();

  boost::asio::signal_set signals_;
  boost::asio::steady_timer poll_;
  std::chrono::seconds grace_;
  std::chrono::steady_clock::time_point deadline_{};
  bool begun_ = false;
  Steps steps_;
};

}  // namespace wsteer::app
