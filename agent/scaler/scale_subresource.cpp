#include "scaler/scale_subresource.h"

#include <boost/json/value.hpp>

#include <cstdint>
#include <stdexcept>

namespace wsteer::scaler {
namespace json = boost::json;

namespace {

int replicas_at(const json::object& parent, const char* key, const std::string& where) {
  const auto* v = parent.if_contains(key);
  if (!v || v->is_null()) return 0;
  if (v->is_int64() && v->get_int64() >= 0 && v->get_int64() <= INT32_MAX) return static_cast<int>(v->get_int64());
  if (v->is_uint64() && v->get_uint64() <= INT32_MAX) return static_cast<int>(v->get_uint64());
  throw std::invalid_argument("Scale " + where + "." + key + ": expected a replica count (0 to 2147483647)");
}

const json::object* section(const json::object& scale, const char* key) {
  const auto* v = scale.if_contains(key);
  if (!v || v->is_null()) return nullptr;
  if (!v->is_object()) throw std::invalid_argument(std::string("Scale ") + key + ": expected an object");
  return &v->get_object();
}

}  // namespace

ScaleState read_scale(const json::object& scale) {
  if (const auto* kind = scale.if_contains("kind"); kind && !(kind->is_string() && kind->get_string() == "Scale"))
    throw std::invalid_argument("not a Scale object (kind " + (kind->is_string() ? std::string(kind->get_string()) : "?") + ")");
  ScaleState s;
  if (const auto* spec = section(scale, "spec")) s.spec_replicas = replicas_at(*spec, "replicas", "spec");
  if (const auto* status = section(scale, "status")) {
    s.status_replicas = replicas_at(*status, "replicas", "status");
    if (const auto* sel = status->if_contains("selector"); sel && sel->is_string()) s.selector = std::string(sel->get_string());
  }
  if (const auto* meta = section(scale, "metadata"))
    if (const auto* rv = meta->if_contains("resourceVersion"); rv && rv->is_string())
      s.resource_version = std::string(rv->get_string());
  return s;
}

json::object scale_patch(int replicas, const std::string& resource_version) {
  if (replicas < 0) throw std::invalid_argument("scale patch: negative replicas");
  json::object patch{{"spec", json::object{{"replicas", replicas}}}};
  if (!resource_version.empty()) patch["metadata"] = json::object{{"resourceVersion", resource_version}};
  return patch;
}

}  // namespace wsteer::scaler
