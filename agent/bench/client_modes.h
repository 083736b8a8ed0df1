// The workload of one established connection, per mode. Each returns once the measuring window
// has ended and the connection is closed: true if it closed cleanly, false (error counted) if it
// failed on the way. Churn opens its own connections; `ws` is its first, already established.
#pragma once

#include "bench/client_context.h"

#include <boost/asio/awaitable.hpp>

namespace wsteer::bench {

boost::asio::awaitable<bool> run_pingpong(WsClient& ws, Conn& c);
boost::asio::awaitable<bool> run_open(WsClient& ws, Conn& c);
boost::asio::awaitable<bool> run_idle(WsClient& ws, Conn& c);
boost::asio::awaitable<bool> run_stream_down(WsClient& ws, Conn& c);
boost::asio::awaitable<bool> run_stream_up(WsClient& ws, Conn& c);
boost::asio::awaitable<bool> run_churn(WsClient& ws, Conn& c);

}  // namespace wsteer::bench
