#include "steering/key_policy.h"

#include "steering/http_syntax.h"
#include "steering/request_cookies.h"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace wsteer::steering {

namespace http = boost::beast::http;

namespace {

constexpr std::string_view kKnownSources =
    "sec-websocket-key, client-ip, header:NAME, query:NAME, path, path-segment:N, cookie:NAME";

[[noreturn]] void reject(std::string_view text, std::string_view why) {
  throw std::invalid_argument("hash key source '" + std::string(text) + "': " + std::string(why) +
                              " (known sources: " + std::string(kKnownSources) + ")");
}

// Both forms a proxy may see: origin-form "/path?q" and absolute-form "http://host/path?q".
std::optional<boost::urls::url_view> parse_target(std::string_view target) {
  auto url = boost::urls::parse_uri_reference(target);
  if (!url) return std::nullopt;
  return *url;
}

std::string client_ip_key(const boost::asio::ip::address& client) {
  // A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d; hash them as the IPv4 address
  // they are, so the key does not depend on how the socket was opened.
  if (client.is_v6() && client.to_v6().is_v4_mapped())
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, client.to_v6()).to_string();
  return client.to_string();
}

// "%41" -> "A", "+" -> " " (as forms write queries), or nothing on a malformed escape
// (parse_uri_reference rejects those first; this does not rely on it).
std::optional<std::string> decode_query_part(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] != '%') {
      out += text[i];
    } else {
      unsigned char byte = 0;
      if (text.size() - i < 3) return std::nullopt;  // "%" or "%4" at the end
      const auto [end, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, byte, 16);
      if (ec != std::errc{} || end != text.data() + i + 3) return std::nullopt;
      out += static_cast<char>(byte);
      i += 2;
    }
  }
  return out;
}

// The decoded value of the first parameter whose decoded name is `name` ("a=1&room=42" -> "42"),
// or nothing when none has a value. Hand-split rather than url_view::params(): Boost.URL 1.81
// walks past an empty query followed by a fragment ("/a?#b") until the stack overflows, and its
// parse_query() reads past the end of a string that is not NUL-terminated, as a request target
// in Beast's fields is not; any client could send either (both found by fuzz_handshake).
std::optional<std::string> query_value(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto equals = param.find('=');
    if (decode_query_part(param.substr(0, equals)) != name) continue;
    if (equals == std::string_view::npos) return std::nullopt;  // "?room": present, no value
    return decode_query_part(param.substr(equals + 1));
  }
  return std::nullopt;
}

}  // namespace

KeySource parse_key_source(std::string_view text) {
  const auto trimmed = trim_ows(text);
  const auto colon = trimmed.find(':');
  const auto kind = trimmed.substr(0, colon);
  const auto argument = colon == std::string_view::npos ? std::string_view{} : trimmed.substr(colon + 1);
  const bool has_argument = colon != std::string_view::npos;

  KeySource source;
  source.label = std::string(trimmed);
  if (kind == "sec-websocket-key" || kind == "client-ip" || kind == "path") {
    if (has_argument) reject(text, "takes no argument");
    source.kind = kind == "path"        ? KeySource::Kind::path
                  : kind == "client-ip" ? KeySource::Kind::client_ip
                                        : KeySource::Kind::sec_websocket_key;
    return source;
  }
  if (kind == "header" || kind == "cookie") {
    if (!is_http_token(argument)) reject(text, "needs a name made of token characters, e.g. " + std::string(kind) + ":x-room");
    source.kind = kind == "header" ? KeySource::Kind::header : KeySource::Kind::cookie;
    source.argument = std::string(argument);
    return source;
  }
  if (kind == "query") {
    if (argument.empty()) reject(text, "needs a parameter name, e.g. query:room");
    source.kind = KeySource::Kind::query;
    source.argument = std::string(argument);
    return source;
  }
  if (kind == "path-segment") {
    std::size_t index = 0;
    const auto [end, ec] = std::from_chars(argument.data(), argument.data() + argument.size(), index);
    if (argument.empty() || ec != std::errc{} || end != argument.data() + argument.size())
      reject(text, "needs a 0-based segment index, e.g. path-segment:1");
    source.kind = KeySource::Kind::path_segment;
    source.segment = index;
    return source;
  }
  reject(text, "unknown source");
}

std::optional<std::string> extract_key(const KeySource& source, const Request& request,
                                       const boost::asio::ip::address& client) {
  const auto non_empty = [](std::string_view v) -> std::optional<std::string> {
    if (v.empty()) return std::nullopt;
    return std::string(v);
  };
  switch (source.kind) {
    case KeySource::Kind::sec_websocket_key:
      return non_empty(request[http::field::sec_websocket_key]);
    case KeySource::Kind::client_ip:
      if (client.is_unspecified()) return std::nullopt;
      return client_ip_key(client);
    case KeySource::Kind::header:
      return non_empty(request[source.argument]);
    case KeySource::Kind::cookie:
      if (auto value = find_request_cookie(request, source.argument)) return non_empty(*value);
      return std::nullopt;
    case KeySource::Kind::query: {
      const auto url = parse_target(request.target());
      if (!url || !url->has_query()) return std::nullopt;
      if (auto value = query_value(url->encoded_query(), source.argument)) return non_empty(*value);
      return std::nullopt;
    }
    case KeySource::Kind::path: {
      const auto url = parse_target(request.target());
      if (!url) return std::nullopt;
      return non_empty(url->path());
    }
    case KeySource::Kind::path_segment: {
      const auto url = parse_target(request.target());
      if (!url) return std::nullopt;
      const auto segments = url->segments();
      if (source.segment >= segments.size()) return std::nullopt;
      return non_empty(*std::next(segments.begin(), static_cast<std::ptrdiff_t>(source.segment)));
    }
  }
  return std::nullopt;
}

KeyPolicy::KeyPolicy(const std::vector<std::string>& sources) {
  if (sources.empty()) throw std::invalid_argument("hash key list is empty (e.g. --hash-key sec-websocket-key)");
  for (const auto& text : sources) sources_.push_back(parse_key_source(text));
}

HashKey KeyPolicy::key_for(const Request& request, const boost::asio::ip::address& client) const {
  for (const auto& source : sources_)
    if (auto value = extract_key(source, request, client)) return {std::move(*value), source.label};
  if (auto websocket_key = request[http::field::sec_websocket_key]; !websocket_key.empty())
    return {std::string(websocket_key), "fallback:sec-websocket-key"};
  return {client_ip_key(client), "fallback:client-ip"};
}

}  // namespace wsteer::steering
