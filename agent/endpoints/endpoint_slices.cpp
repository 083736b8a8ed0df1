#include "endpoints/endpoint_slices.h"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <charconv>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

namespace wsteer::endpoints {
namespace {

namespace json = boost::json;
using steering::Endpoint;

// Typed reads that treat an absent, null or wrongly typed field alike: the API server never
// sends wrong types, and a cache that throws on a surprise would stop the whole watch.
const json::object* object_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v ? v->if_object() : nullptr;
}
const json::array* array_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v ? v->if_array() : nullptr;
}
std::string_view string_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  const auto* s = v ? v->if_string() : nullptr;
  return s ? std::string_view(*s) : std::string_view();
}
std::optional<bool> bool_at(const json::object* o, std::string_view key) {
  if (!o) return std::nullopt;
  const auto* v = o->if_contains(key);
  const auto* b = v ? v->if_bool() : nullptr;
  return b ? std::optional<bool>(*b) : std::nullopt;
}
std::optional<std::int64_t> int_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v) return std::nullopt;
  if (const auto* i = v->if_int64()) return *i;
  if (const auto* u = v->if_uint64()) return static_cast<std::int64_t>(*u);
  return std::nullopt;
}

std::string_view name_of(const json::object& slice) {
  const auto* meta = object_at(slice, "metadata");
  return meta ? string_at(*meta, "name") : std::string_view();
}
std::string_view resource_version_of(const json::object& slice) {
  const auto* meta = object_at(slice, "metadata");
  return meta ? string_at(*meta, "resourceVersion") : std::string_view();
}

std::string host_port(const boost::asio::ip::address& ip, std::uint16_t port) {
  const auto host = ip.is_v6() ? "[" + ip.to_string() + "]" : ip.to_string();
  return host + ":" + std::to_string(port);
}

std::optional<std::uint16_t> parse_port_number(std::string_view text) {
  std::uint16_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n == 0) return std::nullopt;
  return n;
}

// Only TCP ports can carry WebSockets; a missing protocol means TCP (the API default). UDP or
// SCTP ports of the same Service are invisible here, so "the only port" means the only TCP one.
bool is_tcp(const json::object& port) {
  const auto protocol = string_at(port, "protocol");
  return protocol.empty() || protocol == "TCP";
}

std::string describe_port(const json::object& port) {
  const auto name = string_at(port, "name");
  const auto number = int_at(port, "port");
  std::string text = name.empty() ? "(unnamed)" : std::string(name);
  if (number) text += " " + std::to_string(*number);
  return text;
}

std::string port_list(const std::vector<const json::object*>& ports) {
  std::string text;
  for (const auto* p : ports) text += (text.empty() ? "" : ", ") + describe_port(*p);
  return text.empty() ? "none" : text;
}

// One usable endpoint of one slice, before deduplication.
struct Candidate {
  std::string name;
  std::string pod;  // "KIND/NAMESPACE/NAME" of the targetRef, empty when there is none
  boost::asio::ip::address address;
  std::uint16_t port = 0;
  bool draining = false;
};

}  // namespace

EndpointSliceCache::EndpointSliceCache(std::string port) : port_(std::move(port)) {}

bool EndpointSliceCache::replace(const std::vector<boost::json::object>& slices) {
  slices_.clear();
  for (const auto& slice : slices) slices_[std::string(name_of(slice))] = slice;
  const auto before = endpoints_;
  rebuild();
  return endpoints_ != before;
}

bool EndpointSliceCache::upsert(const boost::json::object& slice) {
  const std::string name(name_of(slice));
  if (const auto it = slices_.find(name); it != slices_.end()) {
    const auto rv = resource_version_of(slice);
    if (!rv.empty() && rv == resource_version_of(it->second)) return false;  // a replayed event
    it->second = slice;
  } else {
    slices_.emplace(name, slice);
  }
  const auto before = endpoints_;
  rebuild();
  return endpoints_ != before;
}

bool EndpointSliceCache::erase(const boost::json::object& slice) {
  if (slices_.erase(std::string(name_of(slice))) == 0) return false;
  const auto before = endpoints_;
  rebuild();
  return endpoints_ != before;
}

void EndpointSliceCache::rebuild() {
  std::vector<std::string> problems;
  std::vector<Candidate> candidates;
  const auto numeric_port = parse_port_number(port_);

  for (const auto& [slice_name, slice] : slices_) {
    const auto* endpoints = array_at(slice, "endpoints");
    const std::size_t count = endpoints ? endpoints->size() : 0;
    // An empty slice is how the controller says "no pods yet"; its missing ports are no problem.
    if (count == 0) continue;
    const auto where = "EndpointSlice " + slice_name + ": ";
    const auto skipped = " (" + std::to_string(count) + " endpoint" + (count == 1 ? "" : "s") + " skipped)";

    const auto address_type = string_at(slice, "addressType");
    if (address_type != "IPv4" && address_type != "IPv6") {
      problems.push_back(where + "addressType " + (address_type.empty() ? "(none)" : std::string(address_type)) +
                         " is not supported, only IPv4 and IPv6" + skipped);
      continue;
    }

    std::vector<const json::object*> tcp_ports;
    if (const auto* ports = array_at(slice, "ports"))
      for (const auto& p : *ports)
        if (const auto* po = p.if_object(); po && is_tcp(*po)) tcp_ports.push_back(po);

    const json::object* chosen = nullptr;
    if (port_.empty()) {
      if (tcp_ports.size() == 1) {
        chosen = tcp_ports.front();
      } else if (tcp_ports.empty()) {
        problems.push_back(where + "no TCP port" + skipped);
        continue;
      } else {
        problems.push_back(where + "ambiguous port, name one of: " + port_list(tcp_ports) + skipped);
        continue;
      }
    } else {
      for (const auto* p : tcp_ports) {
        const bool match = numeric_port ? int_at(*p, "port") == std::int64_t{*numeric_port}
                                        : string_at(*p, "name") == port_;
        if (match) {
          chosen = p;
          break;
        }
      }
      if (!chosen) {
        problems.push_back(where + "no TCP port " + (numeric_port ? port_ : "named \"" + port_ + "\"") +
                           " (has: " + port_list(tcp_ports) + ")" + skipped);
        continue;
      }
    }
    const auto number = int_at(*chosen, "port");
    if (!number || *number < 1 || *number > 65535) {
      problems.push_back(where + "port " + describe_port(*chosen) + " has no usable number" + skipped);
      continue;
    }
    const auto port = static_cast<std::uint16_t>(*number);

    std::size_t bad_addresses = 0;
    std::string first_bad;
    for (const auto& e : *endpoints) {
      const auto* eo = e.if_object();
      if (!eo) continue;
      const auto* conditions = object_at(*eo, "conditions");
      const bool ready = bool_at(conditions, "ready").value_or(true);
      const bool serving = bool_at(conditions, "serving").value_or(true);
      const bool terminating = bool_at(conditions, "terminating").value_or(false);
      if (!ready && !(serving && terminating)) continue;  // not ready, not draining: left out

      // The API says consumers use the first address; the others are for future use.
      const auto* addresses = array_at(*eo, "addresses");
      const auto* first = addresses && !addresses->empty() ? addresses->front().if_string() : nullptr;
      boost::system::error_code ec;
      const auto address = first ? boost::asio::ip::make_address(std::string_view(*first), ec)
                                 : boost::asio::ip::address();
      if (!first || ec) {
        if (bad_addresses++ == 0) first_bad = first ? "\"" + std::string(*first) + "\"" : "(none)";
        continue;
      }

      Candidate c;
      c.address = address;
      c.port = port;
      c.draining = !ready;
      if (const auto* ref = object_at(*eo, "targetRef"); ref && !string_at(*ref, "name").empty()) {
        c.name = string_at(*ref, "name");
        c.pod = std::string(string_at(*ref, "kind")) + "/" + std::string(string_at(*ref, "namespace")) + "/" + c.name;
      } else {
        c.name = host_port(address, port);
      }
      candidates.push_back(std::move(c));
    }
    if (bad_addresses)
      problems.push_back(where + std::to_string(bad_addresses) + " endpoint address" +
                         (bad_addresses == 1 ? " is" : "es are") + " not an IP address (first: " + first_bad +
                         ")");
  }

  // One entry per pod: a dual-stack pod shows up in an IPv4 and an IPv6 slice and must not get
  // two shares of the table. It keeps its IPv4 address, and is draining only if it drains in
  // every slice it is in.
  std::map<std::string, Candidate> by_pod;
  std::vector<Candidate> merged;
  for (auto& c : candidates) {
    if (c.pod.empty()) {
      merged.push_back(std::move(c));
      continue;
    }
    auto [it, fresh] = by_pod.try_emplace(c.pod, c);
    if (fresh) continue;
    auto& kept = it->second;
    const bool draining = kept.draining && c.draining;
    const auto better = [](const Candidate& a, const Candidate& b) {  // a preferred over b?
      if (a.address.is_v4() != b.address.is_v4()) return a.address.is_v4();
      return !a.draining && b.draining;
    };
    if (better(c, kept)) kept = std::move(c);
    kept.draining = draining;
  }
  for (auto& [pod, c] : by_pod) merged.push_back(std::move(c));

  // One entry per address: while the controller moves an endpoint between slices it is briefly
  // in both, and a new pod can reuse the address of one still terminating. Ready wins.
  std::map<boost::asio::ip::address, Candidate> by_address;
  for (auto& c : merged) {
    auto [it, fresh] = by_address.try_emplace(c.address, c);
    if (!fresh && it->second.draining && !c.draining) it->second = std::move(c);
  }

  // Names are the backend identity downstream and must be unique; two different endpoints under
  // one name (only possible with hand-made slices) keep the ready one, then the first address.
  std::map<std::string, Endpoint> by_name;
  std::set<std::string> clashes;
  for (auto& [address, c] : by_address) {
    Endpoint e;
    e.name = c.name;
    e.address = c.address;
    e.port = c.port;
    e.draining = c.draining;
    auto [it, fresh] = by_name.try_emplace(e.name, e);
    if (fresh) continue;
    clashes.insert(e.name);
    if (it->second.draining && !e.draining) it->second = std::move(e);
  }
  for (const auto& name : clashes)
    problems.push_back("endpoint name " + name + " is used by several addresses; only one is kept");

  endpoints_.clear();
  endpoints_.reserve(by_name.size());
  for (auto& [name, e] : by_name) endpoints_.push_back(std::move(e));
  problems_ = std::move(problems);
}

}  // namespace wsteer::endpoints
