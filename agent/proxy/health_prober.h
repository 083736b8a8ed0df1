// The active half of the circuit breaker: backends the steering layer marked unhealthy (after
// failed connects) are probed with a plain TCP connect; one that answers is put back in rotation.
#pragma once

#include "steering/steering.h"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>

namespace wsteer::proxy {

class HealthProber {
 public:
  HealthProber(boost::asio::io_context& io, steering::Steering& steering,
               std::chrono::milliseconds interval = std::chrono::seconds(2),
               std::chrono::milliseconds timeout = std::chrono::seconds(1));
  void start();

 private:
  boost::asio::awaitable<void> loop();

  boost::asio::io_context& io_;
  steering::Steering& steering_;
  std::chrono::milliseconds interval_;
  std::chrono::milliseconds timeout_;
};

}  // namespace wsteer::proxy
