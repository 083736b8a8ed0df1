// WebSocket clients for the end-to-end tests (Boost.Beast, C++20 coroutines). Every operation
// has a deadline: run_in_netns() stops the io_context when its time is up.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace wsteer::test {

using Ws = boost::beast::websocket::stream<boost::beast::tcp_stream>;
using Headers = std::vector<std::pair<std::string, std::string>>;

struct Connected {
  std::unique_ptr<Ws> ws;
  std::string backend;     // the X-Wsteer-Backend header of the 101
  std::string set_cookie;  // the Set-Cookie header of the 101, if any
};

// Connects and performs the WebSocket handshake; throws boost::system::system_error on failure.
boost::asio::awaitable<Connected> connect_ws(const std::string& host, unsigned short port,
                                             const std::string& target = "/", const Headers& headers = {});

// Sends `message` and reads one message back.
boost::asio::awaitable<std::string> round_trip(Ws& ws, const std::string& message, bool binary = false);

// Runs the coroutine made by `task` on a fresh io_context, on this thread, inside `netns`.
// Rethrows its exception; throws std::runtime_error if it did not finish within `limit`.
void run_in_netns(const std::string& netns, std::chrono::milliseconds limit,
                  const std::function<boost::asio::awaitable<void>()>& task);
// The same on `io`, which outlives the call: connections made in one call can be used in the next.
void run_in_netns(boost::asio::io_context& io, const std::string& netns, std::chrono::milliseconds limit,
                  const std::function<boost::asio::awaitable<void>()>& task);

// One HTTP request over a fresh TCP connection from `netns`; returns status and body, or
// status 0 when the server closed without answering.
struct HttpReply {
  int status = 0;
  std::string body;
  std::string header(const std::string& name) const;
  std::vector<std::pair<std::string, std::string>> headers;
};
HttpReply http_exchange(const std::string& netns, const std::string& host, unsigned short port,
                        const std::string& raw_request, std::chrono::milliseconds limit = std::chrono::seconds(5));

}  // namespace wsteer::test
