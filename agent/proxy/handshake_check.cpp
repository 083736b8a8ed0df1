#include "proxy/handshake_check.h"

#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/http/rfc7230.hpp>

#include <array>
#include <charconv>
#include <cstdint>

namespace wsteer::proxy {
namespace {

namespace http = boost::beast::http;
namespace base64 = boost::beast::detail::base64;
using Request = http::request<http::empty_body>;

constexpr std::string_view kWebSocketVersion = "13";  // the only version RFC 6455 defines
constexpr std::size_t kKeyBytes = 16;                 // RFC 6455 4.1: a random 16-byte nonce

HandshakeVerdict reject(http::status status, std::string label, std::string reason) {
  return {status, std::move(label), std::move(reason)};
}

// Whether any line of `field` lists `token`, compared case-insensitively.
bool has_token(const Request& request, http::field field, std::string_view token) {
  auto [line, end] = request.equal_range(field);
  for (; line != end; ++line)
    if (http::token_list(line->value()).exists(token)) return true;
  return false;
}

// An opening handshake has no body (RFC 6455 4.1: a GET); bytes after the head would be taken for
// the client's first WebSocket frames.
bool has_body(const Request& request) {
  if (request.count(http::field::transfer_encoding) > 0) return true;
  const auto length = request[http::field::content_length];
  if (length.empty()) return false;
  std::uint64_t bytes = 0;
  const auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), bytes);
  // Beast's parser rejects malformed lengths; should one get here anyway, it counts as a body.
  return ec != std::errc{} || end != length.data() + length.size() || bytes > 0;
}

// Exactly 16 bytes: 22 base64 characters and "==" padding. Beast's decoder stops at the first
// character outside the alphabet, so "read all 22" also rejects stray characters.
bool is_valid_key(std::string_view key) {
  if (key.size() != base64::encoded_size(kKeyBytes) || !key.ends_with("==")) return false;
  std::array<char, base64::decoded_size(base64::encoded_size(kKeyBytes))> bytes;
  const auto [written, read] = base64::decode(bytes.data(), key.data(), key.size());
  return written == kKeyBytes && read == key.size() - 2;
}

}  // namespace

HandshakeVerdict check_upgrade(const Request& request) {
  if (request.method() != http::verb::get)
    return reject(http::status::bad_request, "method", "method must be GET");
  if (request.version() != 11)
    return reject(http::status::bad_request, "http_version", "HTTP/1.1 required");
  if (request.count(http::field::host) != 1)
    return reject(http::status::bad_request, "host", "exactly one Host header required");
  if (!has_token(request, http::field::upgrade, "websocket"))
    return reject(http::status::bad_request, "not_upgrade", "not a WebSocket upgrade");
  if (!has_token(request, http::field::connection, "upgrade"))
    return reject(http::status::bad_request, "connection", "Connection header must list \"upgrade\"");
  if (has_body(request))
    return reject(http::status::bad_request, "body", "an upgrade request has no body");

  const auto versions = request.count(http::field::sec_websocket_version);
  if (versions == 0)
    return reject(http::status::bad_request, "version", "missing Sec-WebSocket-Version");
  if (versions != 1 || request[http::field::sec_websocket_version] != kWebSocketVersion)
    return reject(http::status::upgrade_required, "version", "Sec-WebSocket-Version must be 13");

  if (request.count(http::field::sec_websocket_key) != 1 || !is_valid_key(request[http::field::sec_websocket_key]))
    return reject(http::status::bad_request, "key", "Sec-WebSocket-Key must appear once and hold 16 base64 bytes");
  return {};
}

http::response<http::string_body> make_error_response(http::status status, std::string_view reason,
                                                       ExtraFields extra) {
  http::response<http::string_body> response{status, 11};
  response.set(http::field::content_type, "text/plain; charset=utf-8");
  // Every error ends the connection: what follows on it is not worth parsing.
  response.keep_alive(false);
  if (status == http::status::upgrade_required) response.set(http::field::sec_websocket_version, kWebSocketVersion);
  // A short hint: capacity usually comes back within seconds, as pods become ready.
  if (status == http::status::service_unavailable) response.set(http::field::retry_after, "1");
  for (const auto& [field, value] : extra) response.set(field, value);
  response.body() = std::string(reason) + "\n";
  response.prepare_payload();
  return response;
}

http::response<http::string_body> make_error_response(const HandshakeVerdict& verdict) {
  return make_error_response(verdict.status, verdict.reason);
}

}  // namespace wsteer::proxy
