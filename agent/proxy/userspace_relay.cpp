#include "proxy/userspace_relay.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>

namespace wsteer::proxy {
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

// Copies from -> to until EOF (then half-closes `to`) or an error (then closes both).
asio::awaitable<void> pump(tcp::socket& from, tcp::socket& to, metrics::AgentMetrics& metrics,
                           metrics::Direction direction) {
  std::array<char, 64 * 1024> buf;
  for (;;) {
    auto [rerr, n] = co_await from.async_read_some(asio::buffer(buf), kUse);
    if (n > 0) {
      metrics.userspace_bytes(direction, n);
      auto [werr, written] = co_await asio::async_write(to, asio::buffer(buf.data(), n), kUse);
      if (werr) {
        boost::system::error_code ignored;
        from.close(ignored);
        to.close(ignored);
        co_return;
      }
    }
    if (rerr == asio::error::eof) {
      boost::system::error_code ignored;
      to.shutdown(tcp::socket::shutdown_send, ignored);
      co_return;
    }
    if (rerr) {
      boost::system::error_code ignored;
      from.close(ignored);
      to.close(ignored);
      co_return;
    }
  }
}

}  // namespace

asio::awaitable<void> relay_userspace(tcp::socket& client, tcp::socket& backend, metrics::AgentMetrics& metrics) {
  using namespace asio::experimental::awaitable_operators;
  co_await (pump(client, backend, metrics, metrics::Direction::client_to_backend) &&
            pump(backend, client, metrics, metrics::Direction::backend_to_client));
}

}  // namespace wsteer::proxy
