// Header rules of the plain-HTTP proxy (RFC 9110 section 7.6.1, RFC 9112 section 9.6): which fields
// are hop-by-hop and never forwarded, X-Forwarded-For/-Proto, and what a request's head says
// before its body is read (an upgrade attempt, a body larger than allowed).
#pragma once

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>

#include <cstdint>
#include <optional>
#include <string_view>

namespace wsteer::proxy {

using HttpFields = boost::beast::http::fields;

// Removes the hop-by-hop fields a proxy must not forward: every field the Connection header
// names, then Connection, Keep-Alive, Proxy-Connection, Proxy-Authenticate, Proxy-Authorization,
// TE, Trailer and Upgrade. Transfer-Encoding and Content-Length stay: they frame the body, and
// Beast's serializer re-frames it from them on the next hop. Expect stays too (the caller decides).
void strip_hop_by_hop(HttpFields& fields);

// Appends `client_ip` to X-Forwarded-For (every earlier hop kept, repeated lines folded into one,
// in order) and sets X-Forwarded-Proto to `proto`.
void add_forwarded(HttpFields& fields, std::string_view client_ip, std::string_view proto);

// Whether the request asks for a WebSocket (any Upgrade header at all): those take the
// handshake path (check_upgrade), everything else is plain HTTP.
bool wants_upgrade(const HttpFields& fields);

// The Content-Length the head declares, or nothing (chunked, or no body). Beast's parser has
// already rejected malformed or conflicting values by the time this is asked.
std::optional<std::uint64_t> declared_length(const HttpFields& fields);

// Whether the head declares a body larger than `limit` bytes (0: no limit), so the request can be
// answered 413 before any of it is read. A chunked body is checked as it streams (Beast's
// body_limit), which this cannot foresee.
bool declares_body_over(const HttpFields& fields, std::uint64_t limit);

// Whether the client asked for "100-continue" before sending its body.
bool expects_continue(const HttpFields& fields);

}  // namespace wsteer::proxy
