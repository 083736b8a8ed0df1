#include "endpoints/endpoints_parser.h"

#include <boost/asio/ip/address.hpp>
#include <boost/tokenizer.hpp>

#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace wsteer::endpoints {
namespace {

using boost::asio::ip::address;

// Errors below carry no line; parse_endpoints adds it.
EndpointsError fail(std::string reason) { return EndpointsError{{}, 0, std::move(reason)}; }

std::string quoted(std::string_view word) { return "'" + std::string(word) + "'"; }

std::optional<std::uint32_t> parse_uint(std::string_view text) {
  std::uint32_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string host_port(const address& ip, std::uint16_t port) {
  const auto host = ip.is_v6() ? "[" + ip.to_string() + "]" : ip.to_string();
  return host + ":" + std::to_string(port);
}

// HOST:PORT with HOST an IPv4 literal or a bracketed IPv6 literal.
Result<std::pair<address, std::uint16_t>> parse_host_port(std::string_view word) {
  const bool bracketed = word.starts_with('[');
  std::string_view host;
  std::string_view port;
  if (bracketed) {
    const auto close = word.find("]:");
    if (close == std::string_view::npos) return fail("expected [IPV6]:PORT, got " + quoted(word));
    host = word.substr(1, close - 1);
    port = word.substr(close + 2);
  } else {
    const auto colon = word.rfind(':');
    if (colon == std::string_view::npos) return fail("expected HOST:PORT, got " + quoted(word));
    host = word.substr(0, colon);
    port = word.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      return fail("IPv6 address in " + quoted(word) + " must be in brackets, as in [::1]:9000");
  }

  boost::system::error_code ec;
  const auto ip = boost::asio::ip::make_address(std::string(host), ec);
  if (ec) return fail("host " + quoted(host) + " must be an IP address (hostnames are not resolved)");
  if (bracketed && !ip.is_v6()) return fail("brackets are for IPv6 addresses only, got " + quoted(word));

  const auto number = parse_uint(port);
  if (!number || *number < 1 || *number > 65535) return fail("port must be 1-65535, got " + quoted(port));
  return std::pair{ip, static_cast<std::uint16_t>(*number)};
}

// Applies one "weight=N", "max-connections=N" or "drain" word to the entry.
Result<void> apply_option(std::string_view word, steering::Endpoint& entry) {
  if (word == "drain") {
    entry.draining = true;
    return {};
  }
  const auto equals = word.find('=');
  const auto key = word.substr(0, equals);
  const auto value = equals == std::string_view::npos ? std::string_view{} : word.substr(equals + 1);
  if (key == "weight") {
    const auto weight = parse_uint(value);
    if (!weight || *weight < 1 || *weight > kMaxWeight)
      return fail("weight must be 1-" + std::to_string(kMaxWeight) + ", got " + quoted(value));
    entry.weight = *weight;
    return {};
  }
  if (key == "max-connections") {
    const auto limit = parse_uint(value);
    if (!limit) return fail("max-connections must be a whole number (0: unlimited), got " + quoted(value));
    entry.max_connections = *limit;
    return {};
  }
  return fail("unknown option " + quoted(word) + " (expected weight=N, max-connections=N or drain)");
}

// One non-empty line, already split into words.
Result<steering::Endpoint> parse_entry(const std::vector<std::string>& words) {
  steering::Endpoint entry;
  std::size_t next = 0;
  const bool named = words.size() > 1 && words[0].find(':') == std::string::npos;
  if (named) {
    // Catches options written before the address, which would otherwise become the name.
    if (words[0].find('=') != std::string::npos)
      return fail("options go after HOST:PORT, got " + quoted(words[0]) + " first");
    entry.name = words[next++];
  }

  const auto target = parse_host_port(words[next++]);
  if (!target) return target.error();
  std::tie(entry.address, entry.port) = *target;
  if (!named) entry.name = host_port(entry.address, entry.port);

  std::set<std::string_view> seen;
  for (; next < words.size(); ++next) {
    const std::string_view word = words[next];
    if (auto applied = apply_option(word, entry); !applied) return applied.error();
    const auto key = word.substr(0, word.find('='));
    if (!seen.insert(key).second) return fail("option " + quoted(key) + " given twice");
  }
  return entry;
}

}  // namespace

Result<steering::EndpointList> parse_endpoints(std::string_view text) {
  steering::EndpointList list;
  std::map<std::string, std::size_t> name_lines;
  std::map<std::pair<address, std::uint16_t>, std::size_t> address_lines;
  const boost::char_separator<char> whitespace(" \t\r\f\v");

  std::size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const auto newline = text.find('\n');
    auto line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);

    line = line.substr(0, line.find('#'));
    const boost::tokenizer<boost::char_separator<char>, std::string_view::const_iterator> tokens(line, whitespace);
    const std::vector<std::string> words(tokens.begin(), tokens.end());
    if (words.empty()) continue;

    auto entry = parse_entry(words);
    if (!entry) return EndpointsError{{}, line_number, entry.error().reason};

    const auto [name_it, new_name] = name_lines.emplace(entry->name, line_number);
    if (!new_name)
      return EndpointsError{{}, line_number,
                            "name " + quoted(entry->name) + " already used on line " + std::to_string(name_it->second)};
    const auto [address_it, new_address] = address_lines.emplace(std::pair{entry->address, entry->port}, line_number);
    if (!new_address)
      return EndpointsError{{}, line_number,
                            "address " + host_port(entry->address, entry->port) + " already used on line " +
                                std::to_string(address_it->second)};
    list.push_back(std::move(*entry));
  }
  return list;
}

}  // namespace wsteer::endpoints
