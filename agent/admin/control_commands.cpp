#include "admin/control_commands.h"

#include "steering/key_policy.h"
#include "steering/maglev.h"

#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/value.hpp>

#include <stdexcept>
#include <string>

namespace wsteer::admin {
namespace json = boost::json;
namespace http = boost::beast::http;

namespace {

json::object fail(std::string message) { return {{"ok", false}, {"error", std::move(message)}}; }

std::string optional_string(const json::object& request, const char* field) {
  const auto* v = request.if_contains(field);
  if (!v || v->is_null()) return {};
  if (!v->is_string()) throw std::invalid_argument(std::string("'") + field + "' must be a string");
  return std::string(v->as_string());
}

std::string state_name(steering::BackendState s) {
  switch (s) {
    case steering::BackendState::active: return "active";
    case steering::BackendState::draining: return "draining";
    case steering::BackendState::unhealthy: return "unhealthy";
  }
  return "unknown";
}

// A pod may back several Services: a drain by name applies to all of them.
json::object set_draining(const ControlContext& context, const json::object& request, bool draining) {
  const auto name = optional_string(request, "backend");
  if (name.empty()) return fail("missing backend name");
  json::array services;
  for (const auto& service : context.services)
    if (service.steering->set_draining(name, draining)) services.push_back(json::value(service.name));
  if (services.empty()) return fail("no backend named '" + name + "'");
  if (context.state_changed) context.state_changed();
  json::object out{{"ok", true}, {"backend", name}, {"state", draining ? "draining" : "active"},
                   {"active_connections", 0}};
  std::uint64_t active = 0;
  for (const auto& service : context.services)
    for (const auto& b : service.steering->snapshot())
      if (b.backend.name == name) {
        active += b.active_connections;
        out["state"] = state_name(b.state);
      }
  out["active_connections"] = active;
  out["services"] = std::move(services);
  return out;
}

const ControlService* find_service(const ControlContext& context, const std::string& name) {
  if (context.services.empty()) return nullptr;
  if (name.empty()) return &context.services.front();
  for (const auto& s : context.services)
    if (s.name == name) return &s;
  return nullptr;
}

std::string service_names(const ControlContext& context) {
  std::string names;
  for (const auto& s : context.services) names += (names.empty() ? "" : ", ") + s.name;
  return names;
}

// The request a client with these inputs would send: GET PATH?QUERY with the given headers.
steering::Request build_request(const json::object& request) {
  steering::Request req{http::verb::get, "/", 11};
  auto path = optional_string(request, "path");
  if (path.empty()) path = "/";
  if (path.front() != '/') throw std::invalid_argument("path must start with '/'");
  std::string target = path;
  if (const auto* query = request.if_contains("query"); query && query->is_array()) {
    std::string joined;
    for (const auto& q : query->as_array()) {
      if (!q.is_string()) throw std::invalid_argument("query items must be strings NAME=VALUE");
      joined += (joined.empty() ? "" : "&") + std::string(q.as_string());
    }
    if (!joined.empty()) target += (target.find('?') == std::string::npos ? "?" : "&") + joined;
  }
  req.target(target);
  req.set(http::field::host, "wsteerctl");
  req.set(http::field::upgrade, "websocket");
  req.set(http::field::connection, "Upgrade");
  req.set(http::field::sec_websocket_version, "13");
  if (auto key = optional_string(request, "sec_websocket_key"); !key.empty()) req.set(http::field::sec_websocket_key, key);
  if (auto cookie = optional_string(request, "cookie"); !cookie.empty()) req.set(http::field::cookie, cookie);
  if (const auto* headers = request.if_contains("headers"); headers && headers->is_array()) {
    for (const auto& h : headers->as_array()) {
      if (!h.is_array() || h.as_array().size() != 2 || !h.as_array()[0].is_string() || !h.as_array()[1].is_string())
        throw std::invalid_argument("headers must be [NAME, VALUE] pairs");
      req.insert(std::string(h.as_array()[0].as_string()), std::string(h.as_array()[1].as_string()));
    }
  }
  return req;
}

const char* result_name(steering::Choice::Result r) {
  switch (r) {
    case steering::Choice::Result::ok: return "ok";
    case steering::Choice::Result::no_backends: return "no_backends";
    case steering::Choice::Result::all_full: return "all_full";
  }
  return "unknown";
}

// Which backend the agent would choose for these inputs, and why: the same choose() a real
// request goes through, plus the key and its home slot in the Maglev table.
json::object lookup(const ControlContext& context, const json::object& request) {
  const auto service_name = optional_string(request, "service");
  const auto* service = find_service(context, service_name);
  if (!service) return fail("no service named '" + service_name + "' (services: " + service_names(context) + ")");
  const auto& steering = *service->steering;
  const auto& steering_config = service->steering_config;
  const auto req = build_request(request);
  boost::asio::ip::address client = boost::asio::ip::address_v4::any();
  if (auto text = optional_string(request, "client_ip"); !text.empty()) {
    boost::system::error_code ec;
    client = boost::asio::ip::make_address(text, ec);
    if (ec) return fail("client_ip '" + text + "' is not an IP address");
  }
  const auto choice = steering.choose(req, client, context.max_tries);
  const steering::KeyPolicy policy(steering_config.hash_key);
  const auto key = policy.key_for(req, client);

  json::object out{{"ok", true}, {"result", result_name(choice.result)}, {"service", service->name}};
  out["backend"] = choice.candidates.empty() ? json::value(nullptr) : json::value(choice.candidates.front().name);
  json::array candidates;
  for (const auto& c : choice.candidates) candidates.push_back(json::value(c.name));
  out["candidates"] = std::move(candidates);
  out["key_source"] = choice.key_source.empty() ? key.source : choice.key_source;
  out["hash_key_source"] = key.source;
  out["hash_key"] = key.value;
  out["reason"] = choice.reason;
  json::array policy_list;
  for (const auto& s : steering_config.hash_key) policy_list.push_back(json::value(s));
  out["policy"] = std::move(policy_list);
  out["client_ip"] = client.to_string();
  out["target"] = std::string(req.target());
  if (const auto table = steering.maglev_table(); table && !table->empty()) {
    const steering::MaglevWalk walk(steering::maglev_key_hash(key.value, steering_config.seed),
                                    static_cast<std::uint32_t>(table->size()));
    out["table_size"] = table->size();
    out["home_slot"] = walk.home_slot();
    const auto owner = (*table)[walk.home_slot()];
    for (const auto& b : steering.snapshot())
      if (b.backend.id == owner) out["home_slot_backend"] = b.backend.name;
  }
  return out;
}

}  // namespace

json::object counters_json(const std::vector<prometheus::MetricFamily>& families) {
  json::object out;
  for (const auto& family : families)
    for (const auto& metric : family.metric) {
      std::string labels;
      for (const auto& l : metric.label) labels += (labels.empty() ? "" : ",") + l.name + "=\"" + l.value + "\"";
      const auto key = [&](const std::string& suffix) {
        return family.name + suffix + (labels.empty() ? "" : "{" + labels + "}");
      };
      switch (family.type) {
        case prometheus::MetricType::Counter: out[key("")] = metric.counter.value; break;
        case prometheus::MetricType::Gauge: out[key("")] = metric.gauge.value; break;
        case prometheus::MetricType::Histogram:
          out[key("_count")] = metric.histogram.sample_count;
          out[key("_sum")] = metric.histogram.sample_sum;
          break;
        default: break;
      }
    }
  return out;
}

json::object handle_control_request(const ControlContext& context, const json::object& request) {
  try {
    const auto command = optional_string(request, "command");
    if (command == "status") {
      json::object out = context.status ? context.status() : json::object{};
      out["ok"] = true;
      // Bumps whenever any Service's endpoint set changes.
      std::uint64_t version = 0;
      for (const auto& service : context.services) version += service.steering->endpoints_version();
      out["endpoints_version"] = version;
      return out;
    }
    if (command == "drain") return set_draining(context, request, true);
    if (command == "undrain") return set_draining(context, request, false);
    if (command == "lookup") return lookup(context, request);
    if (command == "stats") {
      json::object out{{"ok", true}};
      out["counters"] = context.counters ? context.counters() : json::object{};
      return out;
    }
    if (command == "rebalance") {
      const auto* dry = request.if_contains("dry_run");
      if (!dry || !dry->is_bool() || !dry->as_bool())
        return fail("rebalance runs on its own when --rebalance-above is set; only a dry run can be asked for");
      if (!context.rebalance_dry_run) return fail("rebalance needs the splice datapath");
      json::object out = context.rebalance_dry_run();
      out["ok"] = true;
      return out;
    }
    if (command.empty()) return fail("missing 'command'");
    return fail("unknown command '" + command + "' (status, drain, undrain, lookup, stats, rebalance)");
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}

}  // namespace wsteer::admin
