#include "proxy/http_headers.h"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/rfc7230.hpp>

#include <array>
#include <charconv>
#include <string>
#include <vector>

namespace wsteer::proxy {
namespace http = boost::beast::http;

using boost::beast::iequals;

void strip_hop_by_hop(HttpFields& fields) {
  // The names first (they view into the Connection lines, which erase() frees).
  std::vector<std::string> listed;
  for (auto [line, end] = fields.equal_range(http::field::connection); line != end; ++line)
    for (const auto& token : http::token_list(line->value())) listed.emplace_back(token);
  for (const auto& name : listed) {
    // "Connection: close" or "keep-alive" name no field; never let a client make the proxy drop
    // the body's framing by listing it.
    if (iequals(name, "transfer-encoding") || iequals(name, "content-length")) continue;
    fields.erase(name);
  }
  static constexpr std::array kHopByHop = {http::field::connection,          http::field::keep_alive,
                                           http::field::proxy_connection,    http::field::proxy_authenticate,
                                           http::field::proxy_authorization, http::field::te,
                                           http::field::trailer,             http::field::upgrade};
  for (auto f : kHopByHop) fields.erase(f);
}

void add_forwarded(HttpFields& fields, std::string_view client_ip, std::string_view proto) {
  std::string chain;
  for (auto [line, end] = fields.equal_range("X-Forwarded-For"); line != end; ++line) {
    if (line->value().empty()) continue;
    if (!chain.empty()) chain += ", ";
    chain += line->value();
  }
  if (!chain.empty()) chain += ", ";
  chain += client_ip;
  fields.set("X-Forwarded-For", chain);
  fields.set("X-Forwarded-Proto", proto);
}

bool wants_upgrade(const HttpFields& fields) { return fields.count(http::field::upgrade) > 0; }

std::optional<std::uint64_t> declared_length(const HttpFields& fields) {
  const auto text = fields[http::field::content_length];
  if (text.empty()) return std::nullopt;
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return n;
}

bool declares_body_over(const HttpFields& fields, std::uint64_t limit) {
  const auto length = declared_length(fields);
  return limit != 0 && length && *length > limit;
}

bool expects_continue(const HttpFields& fields) {
  return iequals(fields[http::field::expect], "100-continue");
}

}  // namespace wsteer::proxy
