// Plain HTTP/1.1 on the WebSocket port (docs/http.md): requests without an Upgrade header are
// proxied in userspace, one at a time, to the backend the key policy (or the sticky cookie)
// chooses, with keep-alive on both sides and bodies streamed through fixed buffers.
#pragma once

#include "proxy/proxy_context.h"
#include "steering/steering.h"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

#include <optional>

namespace wsteer::proxy {

// Serves `client` from its first request, whose head `first` has read (its body, if any, not
// yet), until the connection ends. When a later request on it carries an Upgrade header, returns
// that request, every byte read past its head left in `buffer`, and no backend connection open:
// the caller continues with the WebSocket handshake path as for a first request.
boost::asio::awaitable<std::optional<steering::Request>> serve_http(
    ProxyContext& ctx, boost::beast::tcp_stream& client, boost::beast::flat_buffer& buffer,
    boost::beast::http::request_parser<boost::beast::http::empty_body>& first,
    boost::asio::ip::tcp::endpoint client_endpoint);

}  // namespace wsteer::proxy
