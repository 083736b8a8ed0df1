#include "admin/connections_report.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <set>
#include <stdexcept>

namespace wsteer::admin {
namespace json = boost::json;

namespace {

std::invalid_argument bad(const std::string& where, const std::string& why) {
  return std::invalid_argument("connections report: " + where + (where.empty() ? "" : ": ") + why);
}

const json::value& field(const json::object& obj, const char* key, const std::string& where) {
  const auto* v = obj.if_contains(key);
  if (!v) throw bad(where.empty() ? key : where + "." + key, "missing");
  return *v;
}

std::string name(const json::object& obj, const char* key, const std::string& where) {
  const auto path = where.empty() ? std::string(key) : where + "." + key;
  const auto& v = field(obj, key, where);
  if (!v.is_string()) throw bad(path, "expected a string");
  if (v.get_string().empty()) throw bad(path, "empty");
  return std::string(v.get_string());
}

const json::array& array(const json::object& obj, const char* key, const std::string& where) {
  const auto& v = field(obj, key, where);
  if (!v.is_array()) throw bad(where.empty() ? key : where + "." + key, "expected an array");
  return v.get_array();
}

const json::object& object(const json::value& v, const std::string& where) {
  if (!v.is_object()) throw bad(where, "expected an object");
  return v.get_object();
}

}  // namespace

const ServiceConnections* ConnectionsReport::find(std::string_view service) const {
  for (const auto& s : services)
    if (s.service == service) return &s;
  return nullptr;
}

std::uint64_t ConnectionsReport::total(std::string_view service) const {
  std::uint64_t sum = 0;
  if (const auto* s = find(service))
    for (const auto& b : s->backends) sum += b.active;
  return sum;
}

std::string format_connections_report(const ConnectionsReport& report) {
  json::array services;
  for (const auto& s : report.services) {
    json::array backends;
    for (const auto& b : s.backends) backends.push_back(json::object{{"backend", b.backend}, {"active", b.active}});
    services.push_back(json::object{{"service", s.service}, {"backends", std::move(backends)}});
  }
  return json::serialize(json::object{{"agent", report.agent}, {"time", report.time}, {"services", std::move(services)}});
}

ConnectionsReport parse_connections_report(std::string_view body) {
  boost::system::error_code ec;
  const auto doc = json::parse(body, ec);
  if (ec) throw bad("", "not JSON (" + ec.message() + ")");
  const auto& top = object(doc, "the body");

  ConnectionsReport r;
  r.agent = name(top, "agent", "");
  const auto& time = field(top, "time", "");
  if (time.is_int64() && time.get_int64() >= 0) r.time = time.get_int64();
  else if (time.is_uint64() && time.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) r.time = static_cast<std::int64_t>(time.get_uint64());
  else throw bad("time", "expected unix seconds (a non-negative integer)");

  std::set<std::string> seen_services;
  const auto& services = array(top, "services", "");
  for (std::size_t i = 0; i < services.size(); ++i) {
    const auto where = "services[" + std::to_string(i) + "]";
    const auto& so = object(services[i], where);
    ServiceConnections s;
    s.service = name(so, "service", where);
    if (!seen_services.insert(s.service).second) throw bad(where + ".service", "'" + s.service + "' appears twice");
    std::set<std::string> seen_backends;
    const auto& backends = array(so, "backends", where);
    for (std::size_t j = 0; j < backends.size(); ++j) {
      const auto bwhere = where + ".backends[" + std::to_string(j) + "]";
      const auto& bo = object(backends[j], bwhere);
      BackendConnections b;
      b.backend = name(bo, "backend", bwhere);
      if (!seen_backends.insert(b.backend).second) throw bad(bwhere + ".backend", "'" + b.backend + "' appears twice");
      const auto& active = field(bo, "active", bwhere);
      if (active.is_uint64()) b.active = active.get_uint64();
      else if (active.is_int64() && active.get_int64() >= 0) b.active = static_cast<std::uint64_t>(active.get_int64());
      else throw bad(bwhere + ".active", "expected a non-negative integer");
      s.backends.push_back(std::move(b));
    }
    r.services.push_back(std::move(s));
  }
  return r;
}

}  // namespace wsteer::admin
