// RFC 6455 section 4.2.1: is this request a WebSocket opening handshake we can steer?
// And the short error responses the proxy sends when the answer (or anything later) is no.
#pragma once

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace wsteer::proxy {

struct HandshakeVerdict {
  boost::beast::http::status status = boost::beast::http::status::ok;  // ok, or the error to answer with
  std::string label;   // short and stable, for metrics and logs: "method", "not_upgrade", "key", ...
  std::string reason;  // for a human: the response body and the log line

  bool ok() const { return status == boost::beast::http::status::ok; }
};

// Checks, in this order: GET, HTTP/1.1, Host, "Upgrade: websocket" (else "not a WebSocket
// upgrade"), "Connection: upgrade", no body (400 each), Sec-WebSocket-Version 13 (missing: 400,
// another: 426), one Sec-WebSocket-Key of 16 base64 bytes (400). Token lists are compared
// case-insensitively, across repeated header lines.
HandshakeVerdict check_upgrade(const boost::beast::http::request<boost::beast::http::empty_body>& request);

using ExtraFields = std::initializer_list<std::pair<boost::beast::http::field, std::string_view>>;

// An HTTP/1.1 error response: `reason` as a text/plain body, "Connection: close", and the headers
// a status requires: "Sec-WebSocket-Version: 13" on 426 (RFC 6455 4.4), "Retry-After: 1" on 503.
// `extra` is set last, so it can add headers or replace those (a longer Retry-After, say).
boost::beast::http::response<boost::beast::http::string_body> make_error_response(
    boost::beast::http::status status, std::string_view reason, ExtraFields extra = {});

// The response for a failed check_upgrade.
boost::beast::http::response<boost::beast::http::string_body> make_error_response(const HandshakeVerdict& verdict);

}  // namespace wsteer::proxy
