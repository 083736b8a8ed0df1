// The userspace datapath: after the 101, copy bytes both ways with Asio. The fallback for kernels
// without sockmap and the baseline in benchmarks.
#pragma once

#include "metrics/agent_metrics.h"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace wsteer::proxy {

// Relays until both directions have ended; a FIN is propagated as a half-close, an error ends
// both. Returns when both sockets may be closed.
boost::asio::awaitable<void> relay_userspace(boost::asio::ip::tcp::socket& client,
                                             boost::asio::ip::tcp::socket& backend,
                                             metrics::AgentMetrics& metrics);

}  // namespace wsteer::proxy
