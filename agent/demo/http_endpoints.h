// The echo backend's plain-HTTP side (requests without Upgrade), for the plain-HTTP proxy's
// end-to-end tests and the demo. Keep-alive; every response carries "X-Wsteer-Backend: NAME" and
// "X-Backend-Conn: K" (K numbers the backend's TCP connections, so a test can count them):
//  - GET /whoami: NAME;
//  - POST|PUT /echo: the body back as it streams in, framed like the request (Content-Length or
//    chunked);
//  - POST|PUT /sink: reads the body and answers "BYTES SHA256HEX";
//  - POST|PUT /refuse: answers 413 without reading the body, then closes;
//  - GET /download/N[?chunked]: N bytes of Pattern(N), with Content-Length (or chunked);
//  - GET /cut/N: declares 2N bytes, sends N of Pattern(N), then closes the connection;
//  - GET /slow/MS: answers "slow" after MS milliseconds;
//  - GET /headers: the request head as received, as text;
//  - anything else: 404.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

#include <string>

namespace wsteer::demo {

// Serves `socket` from a first request whose head `first` has read, until the connection ends.
boost::asio::awaitable<void> serve_plain_http(boost::asio::ip::tcp::socket& socket, boost::beast::flat_buffer& buffer,
                                              boost::beast::http::request_parser<boost::beast::http::empty_body>& first,
                                              std::string name);

}  // namespace wsteer::demo
