#include "harness/fake_apiserver_api.h"

#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <charconv>
#include <random>
#include <stdexcept>

namespace wsteer::test::fake {
namespace json = boost::json;
namespace http = boost::beast::http;

namespace {

// ---- Status bodies, shaped as the real server's ----

json::object status_body(int code, std::string_view reason, std::string_view message,
                         std::optional<json::object> details = std::nullopt) {
  json::object s;
  s["kind"] = "Status";
  s["apiVersion"] = "v1";
  s["metadata"] = json::object{};
  s["status"] = "Failure";
  s["message"] = message;
  s["reason"] = reason;
  if (details) s["details"] = std::move(*details);
  s["code"] = code;
  return s;
}

json::object details_of(const ResourceType& rt, std::string_view name) {
  json::object d;
  if (!name.empty()) d["name"] = name;
  d["group"] = rt.group;
  d["kind"] = rt.resource;
  return d;
}

Response json_response(const Request& req, http::status status, const json::value& body) {
  Response res{status, req.version()};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-cache, private");
  res.keep_alive(req.keep_alive());
  res.body() = json::serialize(body);
  res.prepare_payload();
  return res;
}

Response status_response(const Request& req, int code, std::string_view reason, std::string_view message,
                         std::optional<json::object> details = std::nullopt) {
  return json_response(req, static_cast<http::status>(code), status_body(code, reason, message, std::move(details)));
}

Response text_response(const Request& req, http::status status, std::string body) {
  Response res{status, req.version()};
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response not_found_path(const Request& req) {
  return status_response(req, 404, "NotFound", "the server could not find the requested resource", json::object{});
}

Response not_found_object(const Request& req, const ResourceType& rt, std::string_view name) {
  return status_response(req, 404, "NotFound", rt.qualified() + " \"" + std::string(name) + "\" not found",
                         details_of(rt, name));
}

Response bad_request(const Request& req, std::string_view message) {
  return status_response(req, 400, "BadRequest", message);
}

Response conflict(const Request& req, const ResourceType& rt, std::string_view name, std::string_view why) {
  return status_response(req, 409, "Conflict",
                         "Operation cannot be fulfilled on " + rt.qualified() + " \"" + std::string(name) +
                             "\": " + std::string(why),
                         details_of(rt, name));
}

Response expired(const Request& req, std::string_view message) {
  return status_response(req, 410, "Expired", message, json::object{});
}

Response too_large_rv(const Request& req, std::uint64_t rv, std::uint64_t current) {
  json::object details;
  details["causes"] = json::array{json::object{{"reason", "ResourceVersionTooLarge"}, {"message", "Too large resource version"}}};
  details["retryAfterSeconds"] = 1;
  return status_response(req, 504, "Timeout",
                         "Too large resource version: " + std::to_string(rv) + ", current: " + std::to_string(current),
                         std::move(details));
}

// ---- request attributes ----

struct RequestInfo {
  std::string verb;  // get list watch create update patch delete deletecollection
  std::string group, version, resource, subresource, ns, name;
  bool namespaced_path = false;
};

bool parse_bool(std::string_view s) {
  return s == "1" || s == "t" || s == "T" || s == "true" || s == "TRUE" || s == "True";
}

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  std::uint64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

bool allowed(const ApiState& state, const std::string& token, const RequestInfo& info) {
  if (state.rules.empty()) return true;
  const std::string resource = info.subresource.empty() ? info.resource : info.resource + "/" + info.subresource;
  for (const auto& r : state.rules) {
    if (r.token != token) continue;
    if (r.verb != "*" && r.verb != info.verb) continue;
    if (r.group != "*" && r.group != info.group) continue;
    if (r.resource != "*" && r.resource != resource) continue;
    if (!r.ns.empty() && r.ns != info.ns) continue;
    // As RBAC: a rule with resourceNames never matches a request without a name (create, list).
    if (!r.names.empty() && std::find(r.names.begin(), r.names.end(), info.name) == r.names.end()) continue;
    return true;
  }
  return false;
}

Response forbidden(const Request& req, const std::string& user, const RequestInfo& info) {
  const std::string qualified = info.group.empty() ? info.resource : info.resource + "." + info.group;
  const std::string resource = info.subresource.empty() ? info.resource : info.resource + "/" + info.subresource;
  std::string msg = qualified;
  if (!info.name.empty()) msg += " \"" + info.name + "\"";
  msg += " is forbidden: User \"" + user + "\" cannot " + info.verb + " resource \"" + resource +
         "\" in API group \"" + info.group + "\"";
  msg += info.ns.empty() ? " at the cluster scope" : " in the namespace \"" + info.ns + "\"";
  json::object details;
  if (!info.name.empty()) details["name"] = info.name;
  details["group"] = info.group;
  details["kind"] = info.resource;
  return status_response(req, 403, "Forbidden", msg, std::move(details));
}

// ---- continue tokens: base64 of JSON, as the real server's (opaque to clients) ----

std::string encode_continue(std::uint64_t rv, const std::string& start_key) {
  json::object o{{"v", "meta.k8s.io/v1"}, {"rv", rv}, {"start", start_key + std::string(1, '\0')}};
  const std::string raw = json::serialize(o);
  std::string out(boost::beast::detail::base64::encoded_size(raw.size()), '\0');
  out.resize(boost::beast::detail::base64::encode(out.data(), raw.data(), raw.size()));
  // URL-safe and unpadded, as the real server's (base64.RawURLEncoding): usable in a query as is.
  for (char& ch : out) ch = ch == '+' ? '-' : ch == '/' ? '_' : ch;
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

std::optional<std::pair<std::uint64_t, std::string>> decode_continue(std::string_view url_token) {
  std::string token(url_token);
  const std::size_t unpadded = token.size();
  for (char& ch : token) ch = ch == '-' ? '+' : ch == '_' ? '/' : ch;
  while (token.size() % 4 != 0) token += '=';
  std::string raw(boost::beast::detail::base64::decoded_size(token.size()), '\0');
  const auto [n, read] = boost::beast::detail::base64::decode(raw.data(), token.data(), token.size());
  if (read < unpadded) return std::nullopt;
  raw.resize(n);
  boost::system::error_code ec;
  const json::value v = json::parse(raw, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  const auto* rv = o.if_contains("rv");
  const auto* start = o.if_contains("start");
  if (!rv || !start || !start->is_string() || !(rv->is_int64() || rv->is_uint64())) return std::nullopt;
  std::string key(start->as_string());
  if (!key.empty() && key.back() == '\0') key.pop_back();
  return std::make_pair(rv->to_number<std::uint64_t>(), key);
}

std::string key_of(const json::object& obj) { return object_key(meta_string(obj, "namespace"), meta_string(obj, "name")); }

json::object list_item(const ApiState& state, json::object obj) {
  if (!state.list_items_type_meta) {
    obj.erase("apiVersion");
    obj.erase("kind");
  }
  return obj;
}

std::string event_line(std::string_view type, const json::object& obj) {
  json::object ev;
  ev["type"] = type;
  ev["object"] = obj;
  return json::serialize(ev) + "\n";
}

json::object with_rv(json::object obj, std::uint64_t rv) {
  auto& meta = obj["metadata"];
  if (!meta.is_object()) meta = json::object{};
  meta.as_object()["resourceVersion"] = std::to_string(rv);
  return obj;
}


// ---- the verbs ----

struct Params {
  std::map<std::string, std::string> values;
  std::string get(const std::string& key) const {
    const auto it = values.find(key);
    return it == values.end() ? std::string{} : it->second;
  }
  bool has(const std::string& key) const { return values.count(key) != 0; }
};

Response do_list(ApiState& state, const Request& req, const ResourceType& rt, const std::string& ns,
                 const Params& params) {
  ++state.lists;
  LabelSelector labels;
  FieldSelector fields;
  try {
    labels = LabelSelector::parse(params.get("labelSelector"));
    fields = FieldSelector::parse(params.get("fieldSelector"));
  } catch (const std::invalid_argument& e) {
    return bad_request(req, e.what());
  }
  std::size_t limit = 0;
  if (params.has("limit")) {
    const auto l = parse_u64(params.get("limit"));
    if (!l) return bad_request(req, "invalid limit: " + params.get("limit"));
    limit = static_cast<std::size_t>(*l);
  }
  const std::string rv_param = params.get("resourceVersion");
  const std::string match = params.get("resourceVersionMatch");
  auto& store = state.store;

  std::vector<json::object> items;
  std::uint64_t list_rv = store.revision();
  std::string start_after;  // keys <= this are skipped
  if (const std::string cont = params.get("continue"); !cont.empty()) {
    if (!rv_param.empty() && rv_param != "0")
      return bad_request(req, "specifying resource version is not allowed when using continue");
    const auto decoded = decode_continue(cont);
    if (!decoded) return bad_request(req, "continue key is not valid: invalid continue token");
    if (decoded->first < store.compacted())
      return expired(req,
                     "The provided continue parameter is too old to display a consistent list result. You can start "
                     "a new list without the continue parameter, or use the continue value from the response.");
    list_rv = decoded->first;
    start_after = decoded->second;
    items = store.list_at(rt, ns, list_rv);
  } else if (rv_param.empty() || rv_param == "0") {
    for (const auto* obj : store.list(rt, ns)) items.push_back(*obj);
  } else {
    const auto rv = parse_u64(rv_param);
    if (!rv) return bad_request(req, "invalid resource version: " + rv_param);
    if (*rv > store.revision()) return too_large_rv(req, *rv, store.revision());
    // The real server serves "not older than" lists from its watch cache, but reads a list with a
    // limit (or resourceVersionMatch=Exact) from etcd at exactly that revision: gone once compacted.
    const bool exact = match == "Exact" || (match.empty() && limit > 0);
    if (exact) {
      if (*rv < store.compacted()) return expired(req, "The resourceVersion for the provided list is too old.");
      list_rv = *rv;
      items = store.list_at(rt, ns, list_rv);
    } else {
      for (const auto* obj : store.list(rt, ns)) items.push_back(*obj);
    }
  }

  json::array out;
  std::string last_key;
  bool more = false;
  std::size_t remaining = 0;
  for (auto& obj : items) {
    const std::string key = key_of(obj);
    if (!start_after.empty() && key <= start_after) continue;
    if (!labels.matches(obj) || !fields.matches(obj)) continue;
    if (limit > 0 && out.size() >= limit) {
      more = true;
      ++remaining;
      continue;
    }
    last_key = key;
    out.push_back(list_item(state, std::move(obj)));
  }
  json::object meta;
  meta["resourceVersion"] = std::to_string(list_rv);
  if (more) {
    meta["continue"] = encode_continue(list_rv, last_key);
    // As the real server: only without selectors is the count exact enough to report.
    if (labels.empty() && fields.empty()) meta["remainingItemCount"] = remaining;
  }
  json::object body;
  body["kind"] = rt.kind + "List";
  body["apiVersion"] = rt.group_version();
  body["metadata"] = std::move(meta);
  body["items"] = std::move(out);
  return json_response(req, http::status::ok, body);
}

bool visible(const WatchPlan& plan, const json::object& obj) {
  return (plan.ns.empty() || meta_string(obj, "namespace") == plan.ns) && plan.labels.matches(obj) &&
         plan.fields.matches(obj);
}

Outcome do_watch(ApiState& state, const Request& req, const ResourceType& rt, const std::string& ns,
                 const Params& params) {
  ++state.watches;
  Outcome out;
  WatchPlan plan;
  plan.rt = &rt;
  plan.ns = ns;
  try {
    plan.labels = LabelSelector::parse(params.get("labelSelector"));
    plan.fields = FieldSelector::parse(params.get("fieldSelector"));
  } catch (const std::invalid_argument& e) {
    out.response = bad_request(req, e.what());
    return out;
  }
  plan.bookmarks = parse_bool(params.get("allowWatchBookmarks"));
  const auto timeout = parse_u64(params.get("timeoutSeconds"));
  if (timeout && *timeout > 0) {
    plan.timeout = std::chrono::seconds(*timeout);
  } else {
    // As client-go's reflector picks it when the caller does not: 5 to 10 minutes.
    static thread_local std::mt19937 rng{std::random_device{}()};
    plan.timeout = std::chrono::seconds(std::uniform_int_distribution<int>(300, 600)(rng));
  }
  auto& store = state.store;
  const std::string rv_param = params.get("resourceVersion");
  if (rv_param.empty() || rv_param == "0") {
    // "Get state and start at most recent": the current objects as synthetic ADDED events.
    for (const auto* obj : store.list(rt, ns))
      if (visible(plan, *obj)) plan.initial_lines.push_back(event_line("ADDED", *obj));
    plan.cursor = store.revision();
  } else {
    const auto rv = parse_u64(rv_param);
    if (!rv) {
      out.response = bad_request(req, "invalid resource version: " + rv_param);
      return out;
    }
    if (*rv < store.compacted()) {
      plan.initial_lines.push_back(event_line(
          "ERROR", status_body(410, "Expired",
                               "too old resource version: " + rv_param + " (" + std::to_string(store.compacted()) + ")")));
      plan.ends_after_initial = true;
    } else if (*rv > store.revision()) {
      // The real server waits up to 3 s for its cache to catch up, then sends this.
      json::object details;
      details["causes"] = json::array{json::object{{"reason", "ResourceVersionTooLarge"}, {"message", "Too large resource version"}}};
      details["retryAfterSeconds"] = 1;
      plan.initial_lines.push_back(event_line(
          "ERROR", status_body(504, "Timeout",
                               "Too large resource version: " + rv_param + ", current: " + std::to_string(store.revision()),
                               std::move(details))));
      plan.ends_after_initial = true;
    } else {
      plan.cursor = *rv;
    }
  }
  out.watch = std::move(plan);
  return out;
}

std::optional<json::object> parse_body(const Request& req, const ResourceType& rt, Response& error) {
  const auto type = req[http::field::content_type];
  if (!type.empty() && type.substr(0, 16) != "application/json") {
    error = status_response(req, 415, "UnsupportedMediaType",
                            "the body of the request was in an unknown format - accepted media types include: "
                            "application/json, application/yaml, application/vnd.kubernetes.protobuf");
    return std::nullopt;
  }
  boost::system::error_code ec;
  json::value v = json::parse(req.body(), ec);
  if (ec || !v.is_object()) {
    error = bad_request(req, "the object provided is unrecognized (must be of type " + rt.kind +
                                 "): couldn't get version/kind; json parse error: " + (ec ? ec.message() : "not an object"));
    return std::nullopt;
  }
  auto obj = std::move(v.as_object());
  if (const auto kind = json_string(obj, "kind"); !kind.empty() && kind != rt.kind) {
    error = bad_request(req, "the object provided is unrecognized (must be of type " + rt.kind + "): " +
                                 std::string(kind));
    return std::nullopt;
  }
  if (const auto* meta = obj.if_contains("metadata"); meta && !meta->is_object()) {
    error = bad_request(req, "metadata must be an object");
    return std::nullopt;
  }
  return obj;
}

json::object& meta_of(json::object& obj) {
  auto& m = obj["metadata"];
  if (!m.is_object()) m = json::object{};
  return m.as_object();
}

Response do_create(ApiState& state, const Request& req, const ResourceType& rt, const std::string& ns, bool& changed) {
  Response error;
  auto obj = parse_body(req, rt, error);
  if (!obj) return error;
  auto& meta = meta_of(*obj);
  if (const auto body_ns = meta_string(*obj, "namespace"); !body_ns.empty() && body_ns != ns)
    return bad_request(req, "the namespace of the provided object does not match the namespace sent on the request");
  meta["namespace"] = ns;
  std::string name(meta_string(*obj, "name"));
  if (name.empty()) {
    const auto prefix = meta_string(*obj, "generateName");
    if (prefix.empty())
      return status_response(req, 422, "Invalid",
                             rt.kind + " \"\" is invalid: metadata.name: Required value: name or generateName is required",
                             details_of(rt, ""));
    static thread_local std::mt19937 rng{std::random_device{}()};
    const char* alphabet = "bcdfghjklmnpqrstvwxz2456789";
    name = std::string(prefix);
    for (int i = 0; i < 5; ++i) name += alphabet[std::uniform_int_distribution<int>(0, 26)(rng)];
    meta["name"] = name;
  }
  if (state.store.get(rt, ns, name))
    return status_response(req, 409, "AlreadyExists", rt.qualified() + " \"" + name + "\" already exists",
                           details_of(rt, name));
  meta.erase("resourceVersion");
  if (rt.has_status) (*obj)["status"] = json::object{};  // status is set through its subresource only
  changed = true;
  return json_response(req, http::status::created, state.store.create(rt, std::move(*obj)));
}

// Checks and stores a new version of an existing object (PUT and PATCH share it).
Response store_update(ApiState& state, const Request& req, const ResourceType& rt, const json::object& current,
                      json::object next, bool& changed) {
  const std::string name(meta_string(current, "name"));
  if (meta_string(next, "name") != name)
    return bad_request(req, "the name of the object (" + std::string(meta_string(next, "name")) +
                                ") does not match the name on the URL (" + name + ")");
  if (const auto ns = meta_string(next, "namespace"); !ns.empty() && ns != meta_string(current, "namespace"))
    return bad_request(req, "the namespace of the provided object does not match the namespace sent on the request");
  meta_of(next)["namespace"] = meta_string(current, "namespace");
  if (const auto rv = meta_string(next, "resourceVersion"); !rv.empty() && rv != meta_string(current, "resourceVersion"))
    return conflict(req, rt, name,
                    "the object has been modified; please apply your changes to the latest version and try again");
  if (rt.has_status) {
    if (const auto* s = current.if_contains("status")) {
      next["status"] = *s;
    } else {
      next.erase("status");
    }
  }
  const auto& stored = state.store.update(rt, std::move(next), &changed);
  return json_response(req, http::status::ok, stored);
}

bool is_merge_patch(const Request& req, Response& error) {
  const auto type = req[http::field::content_type];
  // Strategic merge patch equals merge patch for the maps and scalars tests patch (lists would
  // differ: they are replaced here).
  if (type.starts_with("application/merge-patch+json") || type.starts_with("application/strategic-merge-patch+json"))
    return true;
  error = status_response(req, 415, "UnsupportedMediaType",
                          "the server does not support the patch type " + std::string(type) +
                              " (the fake apiserver supports application/merge-patch+json)");
  return false;
}

// ---- scale subresource ----

std::int64_t int_at(const json::object& obj, std::string_view a, std::string_view b, std::int64_t dflt) {
  const auto* outer = obj.if_contains(a);
  if (!outer || !outer->is_object()) return dflt;
  const auto* v = outer->as_object().if_contains(b);
  return v && v->is_number() ? v->to_number<std::int64_t>() : dflt;
}

json::object scale_of(const json::object& workload) {
  json::object meta;
  for (const char* k : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"})
    if (const auto v = meta_string(workload, k); !v.empty()) meta[k] = v;
  std::string selector;
  if (const auto* spec = workload.if_contains("spec"); spec && spec->is_object())
    if (const auto* sel = spec->as_object().if_contains("selector"); sel && sel->is_object())
      if (const auto* ml = sel->as_object().if_contains("matchLabels"); ml && ml->is_object()) {
        std::vector<std::string> parts;
        for (const auto& [k, v] : ml->as_object())
          if (v.is_string()) parts.push_back(std::string(k) + "=" + std::string(v.as_string()));
        std::sort(parts.begin(), parts.end());
        for (const auto& p : parts) selector += (selector.empty() ? "" : ",") + p;
      }
  json::object status{{"replicas", int_at(workload, "status", "replicas", 0)}};
  if (!selector.empty()) status["selector"] = selector;
  json::object scale;
  scale["kind"] = "Scale";
  scale["apiVersion"] = "autoscaling/v1";
  scale["metadata"] = std::move(meta);
  scale["spec"] = json::object{{"replicas", int_at(workload, "spec", "replicas", 1)}};
  scale["status"] = std::move(status);
  return scale;
}

Response do_scale(ApiState& state, const Request& req, const RequestInfo& info, const ResourceType& rt, bool& changed) {
  const auto* current = state.store.get(rt, info.ns, info.name);
  if (!current) return not_found_object(req, rt, info.name);
  if (info.verb == "get") return json_response(req, http::status::ok, scale_of(*current));
  json::object scale;
  if (info.verb == "update") {
    boost::system::error_code ec;
    json::value v = json::parse(req.body(), ec);
    if (ec || !v.is_object()) return bad_request(req, "the object provided is unrecognized (must be of type Scale)");
    scale = std::move(v.as_object());
  } else if (info.verb == "patch") {
    Response error;
    if (!is_merge_patch(req, error)) return error;
    boost::system::error_code ec;
    json::value patch = json::parse(req.body(), ec);
    if (ec) return bad_request(req, "error decoding patch: " + ec.message());
    json::value target = scale_of(*current);
    merge_patch(target, patch);
    if (!target.is_object()) return bad_request(req, "the patch does not produce an object");
    scale = std::move(target.as_object());
  } else {
    return status_response(req, 405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
  }
  if (const auto rv = meta_string(scale, "resourceVersion"); !rv.empty() && rv != meta_string(*current, "resourceVersion"))
    return conflict(req, rt, info.name,
                    "the object has been modified; please apply your changes to the latest version and try again");
  const auto replicas = int_at(scale, "spec", "replicas", -1);
  if (replicas < 0)
    return status_response(req, 422, "Invalid",
                           "Scale.autoscaling \"" + info.name + "\" is invalid: spec.replicas: Invalid value: " +
                               std::to_string(replicas) + ": must be greater than or equal to 0",
                           json::object{{"name", info.name}, {"group", "autoscaling"}, {"kind", "Scale"}});
  json::object next = *current;
  auto& spec = next["spec"];
  if (!spec.is_object()) spec = json::object{};
  spec.as_object()["replicas"] = replicas;
  const auto& stored = state.store.update(rt, std::move(next), &changed);
  return json_response(req, http::status::ok, scale_of(stored));
}

Response do_object(ApiState& state, const Request& req, const RequestInfo& info, const ResourceType& rt, bool& changed) {
  auto& store = state.store;
  if (info.verb == "create") return do_create(state, req, rt, info.ns, changed);
  const auto* current = store.get(rt, info.ns, info.name);
  if (info.verb == "get") {
    if (!current) return not_found_object(req, rt, info.name);
    return json_response(req, http::status::ok, *current);
  }
  if (info.verb == "update") {
    Response error;
    auto obj = parse_body(req, rt, error);
    if (!obj) return error;
    if (!current) return not_found_object(req, rt, info.name);
    return store_update(state, req, rt, *current, std::move(*obj), changed);
  }
  if (info.verb == "patch") {
    Response error;
    if (!is_merge_patch(req, error)) return error;
    if (!current) return not_found_object(req, rt, info.name);
    boost::system::error_code ec;
    json::value patch = json::parse(req.body(), ec);
    if (ec) return bad_request(req, "error decoding patch: " + ec.message());
    json::value target = *current;
    merge_patch(target, patch);
    if (!target.is_object()) return bad_request(req, "the patch does not produce an object");
    // A patch carrying metadata.resourceVersion is a precondition; one without is unconditional.
    json::object next = std::move(target.as_object());
    if (!patch.is_object() || !patch.as_object().contains("metadata") ||
        !patch.as_object().at("metadata").is_object() ||
        !patch.as_object().at("metadata").as_object().contains("resourceVersion"))
      meta_of(next)["resourceVersion"] = meta_string(*current, "resourceVersion");
    return store_update(state, req, rt, *current, std::move(next), changed);
  }
  if (info.verb == "delete") {
    if (!current) return not_found_object(req, rt, info.name);
    if (!req.body().empty()) {
      boost::system::error_code ec;
      const json::value opts = json::parse(req.body(), ec);
      if (!ec && opts.is_object())
        if (const auto* pre = opts.as_object().if_contains("preconditions"); pre && pre->is_object()) {
          const auto want_rv = json_string(pre->as_object(), "resourceVersion");
          const auto have_rv = meta_string(*current, "resourceVersion");
          if (!want_rv.empty() && want_rv != have_rv)
            return conflict(req, rt, info.name,
                            "Precondition failed: ResourceVersion in precondition: " + std::string(want_rv) +
                                ", ResourceVersion in object meta: " + std::string(have_rv));
          const auto want_uid = json_string(pre->as_object(), "uid");
          const auto have_uid = meta_string(*current, "uid");
          if (!want_uid.empty() && want_uid != have_uid)
            return conflict(req, rt, info.name,
                            "Precondition failed: UID in precondition: " + std::string(want_uid) +
                                ", UID in object meta: " + std::string(have_uid));
        }
    }
    const std::string uid(meta_string(*current, "uid"));
    store.remove(rt, info.ns, info.name);
    changed = true;
    json::object details = details_of(rt, info.name);
    details["uid"] = uid;
    json::object body;
    body["kind"] = "Status";
    body["apiVersion"] = "v1";
    body["metadata"] = json::object{};
    body["status"] = "Success";
    body["details"] = std::move(details);
    return json_response(req, http::status::ok, body);
  }
  return status_response(req, 405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
}

// Splits /api/v1/... and /apis/G/V/... into request attributes; false: not a resource path.
bool parse_path(const std::vector<std::string>& seg, http::verb method, bool watch, RequestInfo& info) {
  std::size_t i = 0;
  if (seg.size() >= 2 && seg[0] == "api") {
    info.version = seg[1];
    i = 2;
  } else if (seg.size() >= 3 && seg[0] == "apis") {
    info.group = seg[1];
    info.version = seg[2];
    i = 3;
  } else {
    return false;
  }
  std::vector<std::string> rest(seg.begin() + static_cast<std::ptrdiff_t>(i), seg.end());
  if (rest.size() >= 3 && rest[0] == "namespaces") {
    info.namespaced_path = true;
    info.ns = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  }
  if (rest.empty() || rest.size() > 3) return false;
  info.resource = rest[0];
  if (rest.size() >= 2) info.name = rest[1];
  if (rest.size() == 3) info.subresource = rest[2];
  const bool collection = info.name.empty();
  switch (method) {
    case http::verb::get: info.verb = collection ? (watch ? "watch" : "list") : "get"; break;
    case http::verb::post: info.verb = collection ? "create" : ""; break;
    case http::verb::put: info.verb = collection ? "" : "update"; break;
    case http::verb::patch: info.verb = collection ? "" : "patch"; break;
    case http::verb::delete_: info.verb = collection ? "deletecollection" : "delete"; break;
    default: info.verb = ""; break;
  }
  return true;
}

}  // namespace

Outcome handle_request(ApiState& state, const Request& req) {
  Outcome out;
  state.requests.push_back(std::string(req.method_string()) + " " + std::string(req.target()));
  if (state.unavailable) {
    out.response = status_response(req, 503, "ServiceUnavailable", "the server is currently unable to handle the request");
    return out;
  }
  // Authentication.
  std::string token;
  if (const auto auth = req[http::field::authorization]; auth.starts_with("Bearer ")) {
    token = std::string(auth.substr(7));
    state.seen_tokens.push_back(token);
  }
  if (token.empty() || std::find(state.tokens.begin(), state.tokens.end(), token) == state.tokens.end()) {
    out.response = status_response(req, 401, "Unauthorized", "Unauthorized");
    return out;
  }
  const auto url = boost::urls::parse_origin_form(req.target());
  if (!url) {
    out.response = bad_request(req, "invalid request target");
    return out;
  }
  std::vector<std::string> segments;
  for (auto s : url->segments()) segments.push_back(std::string(s));
  Params params;
  for (auto p : url->params()) params.values[std::string(p.key)] = std::string(p.value);

  const std::string path(url->path());
  if (path == "/healthz" || path == "/readyz" || path == "/livez") {
    out.response = text_response(req, http::status::ok, "ok");
    return out;
  }
  if (path == "/version") {
    out.response = json_response(req, http::status::ok,
                                 json::object{{"major", "1"}, {"minor", "28"}, {"gitVersion", "v1.28.0-wsteer-fake"},
                                              {"platform", "linux/amd64"}});
    return out;
  }

  const bool watch = parse_bool(params.get("watch"));
  RequestInfo info;
  if (!parse_path(segments, req.method(), watch, info)) {
    out.response = not_found_path(req);
    return out;
  }
  // Authorization comes before the handler knows whether the resource exists, as in the real server.
  if (!info.verb.empty() && !allowed(state, token, info)) {
    const auto user = state.users.find(token);
    out.response = forbidden(req, user != state.users.end() ? user->second : "system:serviceaccount:default:" + token, info);
    return out;
  }
  const ResourceType* rt = find_resource_type(info.group, info.version, info.resource);
  if (!rt || (!info.subresource.empty() && !(info.subresource == "scale" && rt->has_scale)) ||
      (!info.namespaced_path && !info.name.empty())) {
    out.response = not_found_path(req);
    return out;
  }
  if (info.verb.empty() || info.verb == "deletecollection" || (!info.namespaced_path && info.verb != "list" && info.verb != "watch")) {
    out.response = status_response(req, 405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
    return out;
  }
  if (info.verb == "list") {
    out.response = do_list(state, req, *rt, info.ns, params);
  } else if (info.verb == "watch") {
    out = do_watch(state, req, *rt, info.ns, params);
  } else if (!info.subresource.empty()) {
    out.response = do_scale(state, req, info, *rt, out.store_changed);
  } else {
    out.response = do_object(state, req, info, *rt, out.store_changed);
  }
  return out;
}

std::vector<std::string> next_watch_lines(const ApiState& state, WatchPlan& plan) {
  std::vector<std::string> lines;
  for (const StoredEvent* ev : state.store.events_after(*plan.rt, plan.cursor)) {
    const bool now = visible(plan, ev->object);
    const bool before = ev->prev && visible(plan, *ev->prev);
    switch (ev->type) {
      case EventType::kAdded:
        if (now) lines.push_back(event_line("ADDED", ev->object));
        break;
      case EventType::kModified:
        if (now && before) {
          lines.push_back(event_line("MODIFIED", ev->object));
        } else if (now) {
          lines.push_back(event_line("ADDED", ev->object));
        } else if (before) {
          // Stopped matching the selector: the watch sees it go, as its last matching state.
          lines.push_back(event_line("DELETED", with_rv(*ev->prev, ev->rv)));
        }
        break;
      case EventType::kDeleted:
        if (before) lines.push_back(event_line("DELETED", ev->object));
        break;
    }
  }
  plan.cursor = state.store.revision();
  return lines;
}

std::string bookmark_line(const WatchPlan& plan) {
  json::object obj;
  obj["kind"] = plan.rt->kind;
  obj["apiVersion"] = plan.rt->group_version();
  obj["metadata"] = json::object{{"resourceVersion", std::to_string(plan.cursor)}};
  return event_line("BOOKMARK", obj);
}

std::string partial_line(const WatchPlan& plan) {
  json::object obj;
  obj["kind"] = plan.rt->kind;
  obj["apiVersion"] = plan.rt->group_version();
  obj["metadata"] = json::object{{"name", "interrupted"}, {"namespace", plan.ns.empty() ? "default" : plan.ns},
                                 {"resourceVersion", std::to_string(plan.cursor + 1)}};
  const std::string line = event_line("MODIFIED", obj);
  return line.substr(0, line.size() / 2);
}

}  // namespace wsteer::test::fake
