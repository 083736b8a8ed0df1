#include "proxy/health_prober.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <spdlog/spdlog.h>

namespace wsteer::proxy {
namespace asio = boost::asio;
using asio::ip::tcp;

HealthProber::HealthProber(asio::io_context& io, steering::Steering& steering, std::chrono::milliseconds interval,
                           std::chrono::milliseconds timeout)
    : io_(io), steering_(steering), interval_(interval), timeout_(timeout) {}

void HealthProber::start() { asio::co_spawn(io_, loop(), asio::detached); }

asio::awaitable<void> HealthProber::loop() {
  constexpr auto use = asio::as_tuple(asio::use_awaitable);
  asio::steady_timer timer(io_);
  for (;;) {
    timer.expires_after(interval_);
    auto [wait_ec] = co_await timer.async_wait(use);
    if (wait_ec) co_return;
    for (const auto& b : steering_.snapshot()) {
      if (b.state != steering::BackendState::unhealthy) continue;
      boost::beast::tcp_stream probe(io_);
      probe.expires_after(timeout_);
      auto [ec] = co_await probe.async_connect(tcp::endpoint(b.backend.address, b.backend.port), use);
      if (!ec) {
        spdlog::info("backend {} answers again: back in rotation", b.backend.name);
        steering_.set_healthy(b.backend.id, true);
      }
    }
  }
}

}  // namespace wsteer::proxy
