#include "harness/fake_apiserver_store.h"

#include <boost/algorithm/string/trim.hpp>
#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <ctime>
#include <stdexcept>

namespace wsteer::test::fake {
namespace json = boost::json;

namespace {

const std::array<ResourceType, 9>& resource_types() {
  static const std::array<ResourceType, 9> types{{
      {"discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", false, false},
      {"coordination.k8s.io", "v1", "leases", "Lease", false, false},
      {"apps", "v1", "deployments", "Deployment", true, true},
      {"apps", "v1", "statefulsets", "StatefulSet", true, true},
      {"", "v1", "services", "Service", true, false},
      {"", "v1", "pods", "Pod", true, false},
      {"", "v1", "endpoints", "Endpoints", false, false},
      {"", "v1", "configmaps", "ConfigMap", false, false},
      {"", "v1", "secrets", "Secret", false, false},
  }};
  return types;
}

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    const auto pos = text.find(sep, start);
    out.push_back(text.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) return out;
    start = pos + 1;
  }
}

std::string trimmed(std::string_view s) { return boost::algorithm::trim_copy(std::string(s)); }

const json::object* labels_of(const json::object& obj) {
  const auto* meta = obj.if_contains("metadata");
  if (!meta || !meta->is_object()) return nullptr;
  const auto* labels = meta->as_object().if_contains("labels");
  return labels && labels->is_object() ? &labels->as_object() : nullptr;
}

std::string now_rfc3339() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

json::object& metadata_of(json::object& obj) {
  auto& meta = obj["metadata"];
  if (!meta.is_object()) meta = json::object{};
  return meta.as_object();
}

// Everything but metadata and status: what a generation counts.
json::object spec_part(const json::object& obj) {
  json::object out = obj;
  out.erase("metadata");
  out.erase("status");
  return out;
}

}  // namespace

const ResourceType* find_resource_type(std::string_view group, std::string_view version, std::string_view resource) {
  for (const auto& rt : resource_types())
    if (rt.group == group && rt.version == version && rt.resource == resource) return &rt;
  return nullptr;
}

const ResourceType& resource_type(std::string_view group_version, std::string_view resource) {
  const auto slash = group_version.find('/');
  const auto group = slash == std::string_view::npos ? std::string_view{} : group_version.substr(0, slash);
  const auto version = slash == std::string_view::npos ? group_version : group_version.substr(slash + 1);
  if (const auto* rt = find_resource_type(group, version, resource)) return *rt;
  throw std::invalid_argument("fake apiserver: unknown resource " + std::string(resource) + " in " +
                              std::string(group_version));
}

std::string_view json_string(const json::object& obj, std::string_view key) {
  const auto* v = obj.if_contains(key);
  return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view{};
}

std::string_view meta_string(const json::object& obj, std::string_view key) {
  const auto* meta = obj.if_contains("metadata");
  return meta && meta->is_object() ? json_string(meta->as_object(), key) : std::string_view{};
}

const char* event_type_name(EventType type) {
  switch (type) {
    case EventType::kAdded: return "ADDED";
    case EventType::kModified: return "MODIFIED";
    case EventType::kDeleted: return "DELETED";
  }
  return "ERROR";
}

std::string object_key(std::string_view ns, std::string_view name) {
  return std::string(ns) + "/" + std::string(name);
}

// ---- selectors ----

LabelSelector LabelSelector::parse(std::string_view text) {
  LabelSelector sel;
  if (trimmed(text).empty()) return sel;
  if (text.find('(') != std::string_view::npos)
    throw std::invalid_argument("unable to parse requirement: set-based selectors are not supported by the fake apiserver");
  for (auto part_view : split(text, ',')) {
    const std::string part = trimmed(part_view);
    if (part.empty()) throw std::invalid_argument("unable to parse requirement: found '', expected: identifier");
    Req req;
    if (auto pos = part.find("!="); pos != std::string::npos) {
      req = {trimmed(part.substr(0, pos)), Op::kNotEq, trimmed(part.substr(pos + 2))};
    } else if (pos = part.find("=="); pos != std::string::npos) {
      req = {trimmed(part.substr(0, pos)), Op::kEq, trimmed(part.substr(pos + 2))};
    } else if (pos = part.find('='); pos != std::string::npos) {
      req = {trimmed(part.substr(0, pos)), Op::kEq, trimmed(part.substr(pos + 1))};
    } else if (part[0] == '!') {
      req = {trimmed(part.substr(1)), Op::kNotExists, ""};
    } else {
      req = {part, Op::kExists, ""};
    }
    if (req.key.empty() || req.key.find_first_of(" =!") != std::string::npos)
      throw std::invalid_argument("unable to parse requirement: invalid label key \"" + req.key + "\"");
    sel.reqs_.push_back(std::move(req));
  }
  return sel;
}

bool LabelSelector::matches(const json::object& obj) const {
  const json::object* labels = labels_of(obj);
  for (const auto& req : reqs_) {
    const json::value* v = labels ? labels->if_contains(req.key) : nullptr;
    const bool has = v && v->is_string();
    switch (req.op) {
      case Op::kEq:
        if (!has || v->as_string() != req.value) return false;
        break;
      case Op::kNotEq:  // as in Kubernetes: an object without the label matches k!=v
        if (has && v->as_string() == req.value) return false;
        break;
      case Op::kExists:
        if (!has) return false;
        break;
      case Op::kNotExists:
        if (has) return false;
        break;
    }
  }
  return true;
}

FieldSelector FieldSelector::parse(std::string_view text) {
  FieldSelector sel;
  if (trimmed(text).empty()) return sel;
  for (auto part_view : split(text, ',')) {
    const std::string part = trimmed(part_view);
    Req req;
    if (auto pos = part.find("!="); pos != std::string::npos) {
      req = {trimmed(part.substr(0, pos)), true, trimmed(part.substr(pos + 2))};
    } else if (pos = part.find("=="); pos != std::string::npos) {
      req = {trimmed(part.substr(0, pos)), false, trimmed(part.substr(pos + 2))};
    } else if (pos = part.find('='); pos != std::string::npos) {
      req = {trimmed(part.substr(0, pos)), false, trimmed(part.substr(pos + 1))};
    } else {
      throw std::invalid_argument("invalid selector: '" + part + "'; can't understand '" + part + "'");
    }
    if (req.field != "metadata.name" && req.field != "metadata.namespace")
      throw std::invalid_argument("field label not supported: " + req.field);
    sel.reqs_.push_back(std::move(req));
  }
  return sel;
}

bool FieldSelector::matches(const json::object& obj) const {
  for (const auto& req : reqs_) {
    const auto value = meta_string(obj, req.field == "metadata.name" ? "name" : "namespace");
    if ((value == req.value) == req.negate) return false;
  }
  return true;
}

// ---- merge patch ----

void merge_patch(json::value& target, const json::value& patch) {
  if (!patch.is_object()) {
    target = patch;
    return;
  }
  if (!target.is_object()) target = json::object{};
  auto& obj = target.as_object();
  for (const auto& [key, value] : patch.as_object()) {
    if (value.is_null()) {
      obj.erase(key);
    } else {
      merge_patch(obj[key], value);
    }
  }
}

// ---- store ----

const json::object* Store::get(const ResourceType& rt, std::string_view ns, std::string_view name) const {
  const auto it = objects_.find(&rt);
  if (it == objects_.end()) return nullptr;
  const auto obj = it->second.find(object_key(ns, name));
  return obj == it->second.end() ? nullptr : &obj->second;
}

std::vector<const json::object*> Store::list(const ResourceType& rt, std::string_view ns) const {
  std::vector<const json::object*> out;
  const auto it = objects_.find(&rt);
  if (it == objects_.end()) return out;
  for (const auto& [key, obj] : it->second)
    if (ns.empty() || meta_string(obj, "namespace") == ns) out.push_back(&obj);
  return out;
}

std::vector<json::object> Store::list_at(const ResourceType& rt, std::string_view ns, std::uint64_t rv) const {
  Objects state;
  for (const auto& ev : history_) {
    if (ev.rv > rv) break;
    if (ev.rt != &rt || (!ns.empty() && ev.ns != ns)) continue;
    if (ev.type == EventType::kDeleted) {
      state.erase(object_key(ev.ns, ev.name));
    } else {
      state[object_key(ev.ns, ev.name)] = ev.object;
    }
  }
  std::vector<json::object> out;
  out.reserve(state.size());
  for (auto& [key, obj] : state) out.push_back(std::move(obj));
  return out;
}

const json::object& Store::create(const ResourceType& rt, json::object obj) {
  const std::string ns(meta_string(obj, "namespace"));
  const std::string name(meta_string(obj, "name"));
  obj["apiVersion"] = rt.group_version();
  obj["kind"] = rt.kind;
  auto& meta = metadata_of(obj);
  meta["uid"] = boost::uuids::to_string(boost::uuids::random_generator()());
  meta["creationTimestamp"] = now_rfc3339();
  meta["generation"] = 1;
  meta["resourceVersion"] = std::to_string(++revision_);
  auto& stored = objects_[&rt][object_key(ns, name)] = obj;
  history_.push_back({revision_, EventType::kAdded, &rt, ns, name, std::move(obj), std::nullopt});
  return stored;
}

const json::object& Store::update(const ResourceType& rt, json::object obj, bool* changed) {
  const std::string ns(meta_string(obj, "namespace"));
  const std::string name(meta_string(obj, "name"));
  auto& stored = objects_[&rt].at(object_key(ns, name));
  const auto& old_meta = stored.at("metadata").as_object();
  obj["apiVersion"] = rt.group_version();
  obj["kind"] = rt.kind;
  auto& meta = metadata_of(obj);
  for (const char* kept : {"uid", "creationTimestamp", "generation", "resourceVersion"}) {
    if (const auto* v = old_meta.if_contains(kept)) {
      meta[kept] = *v;
    } else {
      meta.erase(kept);
    }
  }
  if (obj == stored) {
    if (changed) *changed = false;
    return stored;
  }
  if (spec_part(obj) != spec_part(stored)) {
    const auto* gen = old_meta.if_contains("generation");
    meta["generation"] = (gen && gen->is_int64() ? gen->as_int64() : 0) + 1;
  }
  meta["resourceVersion"] = std::to_string(++revision_);
  json::object prev = std::move(stored);
  stored = obj;
  history_.push_back({revision_, EventType::kModified, &rt, ns, name, std::move(obj), std::move(prev)});
  if (changed) *changed = true;
  return stored;
}

json::object Store::remove(const ResourceType& rt, std::string_view ns, std::string_view name) {
  auto& objects = objects_[&rt];
  const auto it = objects.find(object_key(ns, name));
  if (it == objects.end()) throw std::out_of_range("no such object");
  json::object prev = std::move(it->second);
  objects.erase(it);
  json::object last = prev;
  metadata_of(last)["resourceVersion"] = std::to_string(++revision_);
  history_.push_back({revision_, EventType::kDeleted, &rt, std::string(ns), std::string(name), last, std::move(prev)});
  return last;
}

std::vector<const StoredEvent*> Store::events_after(const ResourceType& rt, std::uint64_t after) const {
  std::vector<const StoredEvent*> out;
  auto it = std::upper_bound(history_.begin(), history_.end(), after,
                             [](std::uint64_t rv, const StoredEvent& ev) { return rv < ev.rv; });
  for (; it != history_.end(); ++it)
    if (it->rt == &rt) out.push_back(&*it);
  return out;
}

}  // namespace wsteer::test::fake
