// One client connection: read and check its Upgrade request, choose and connect a backend, relay
// the handshake, then hand the pair to the kernel (splice) or to the userspace relay.
#pragma once

#include "proxy/proxy_context.h"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace wsteer::proxy {

boost::asio::awaitable<void> run_session(ProxyContext& ctx, boost::asio::ip::tcp::socket client);

}  // namespace wsteer::proxy
