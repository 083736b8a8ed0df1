// One client connection: TCP connect and WebSocket handshake under one deadline, with a fresh
// Sec-WebSocket-Key (Beast 1.81's generator repeats; the proxies hash on that key).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <chrono>
#include <string>

namespace wsteer::bench {

using WsClient = boost::beast::websocket::stream<boost::beast::tcp_stream>;

struct ConnectTarget {
  boost::asio::ip::tcp::endpoint endpoint;
  std::string host_header;  // HOST[:PORT] as the Host header wants it
  std::string target;       // request target (path and query)
  std::chrono::milliseconds timeout{10000};
};

struct ConnectResult {
  boost::system::error_code ec;
  std::string what;  // for the user: which step failed and why (empty on success)
};

// Connects `ws` (created on the caller's executor) and completes the handshake; on success the
// socket has TCP_NODELAY and no deadline.
boost::asio::awaitable<ConnectResult> connect_ws(WsClient& ws, const ConnectTarget& to);

// Sends a close frame and waits for the peer's, within `timeout`. True if it closed cleanly.
boost::asio::awaitable<bool> close_ws(WsClient& ws, std::chrono::milliseconds timeout);

}  // namespace wsteer::bench
