// Used by proxy/http_proxy.cpp, which answers 408 after it expires.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>

namespace wsteer::proxy {

// A read deadline that leaves the socket open, so the client can still be told 408: Beast's
// tcp_stream closes the socket when its timer fires. On expiry the pending read is cancelled
// (it completes with operation_aborted) and expired() turns true. Each connection lives on one
// worker's io_context (one thread), so the handler never races the coroutine.
class ReadDeadline {
 public:
  ReadDeadline(boost::asio::ip::tcp::socket& socket, std::chrono::milliseconds after)
      : timer_(socket.get_executor()), state_(std::make_shared<State>()) {
    timer_.expires_after(after);
    timer_.async_wait([state = state_, &socket](const boost::system::error_code& ec) {
      if (ec || !state->armed) return;
      state->expired = true;
      boost::system::error_code ignored;
      socket.cancel(ignored);
    });
  }
  ~ReadDeadline() {
    state_->armed = false;
    timer_.cancel();
  }
  ReadDeadline(const ReadDeadline&) = delete;
  ReadDeadline& operator=(const ReadDeadline&) = delete;
  bool expired() const { return state_->expired; }

 private:
  struct State {
    bool armed = true;
    bool expired = false;
  };
  boost::asio::steady_timer timer_;
  std::shared_ptr<State> state_;
};

}  // namespace wsteer::proxy
