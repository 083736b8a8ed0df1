#include "scaler/scale_config.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <optional>
#include <stdexcept>

namespace wsteer::scaler {
namespace {

// A Kubernetes object name (DNS-1123 subdomain): what Deployment and StatefulSet names must be.
bool dns_subdomain(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && c != '-' && c != '.') return false;
    if ((i == 0 || i + 1 == s.size()) && !alnum) return false;
  }
  return true;
}

std::optional<long long> whole_number(std::string_view s) {
  long long v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

class Reader {
 public:
  explicit Reader(std::string where) : where_(std::move(where)) {}

  std::invalid_argument error(const std::string& key, const std::string& why) const {
    return std::invalid_argument(where_ + (key.empty() ? "" : " " + key) + ": " + why);
  }

  std::string scalar(const YAML::Node& v, const std::string& key) const {
    if (!v.IsScalar()) throw error(key, "expected a single value");
    return v.Scalar();
  }

  long long integer(const YAML::Node& v, const std::string& key, long long min, long long max) const {
    const auto text = scalar(v, key);
    const auto n = whole_number(text);
    if (!n) throw error(key, "'" + text + "' is not a whole number");
    if (*n < min || *n > max)
      throw error(key, std::to_string(*n) + " is out of range (" + std::to_string(min) + " to " + std::to_string(max) + ")");
    return *n;
  }

  std::chrono::seconds seconds(const YAML::Node& v, const std::string& key) const {
    try {
      return parse_seconds(scalar(v, key));
    } catch (const std::invalid_argument& e) {
      throw error(key, e.what());
    }
  }

 private:
  std::string where_;
};

constexpr long long max_replicas_value = std::numeric_limits<std::int32_t>::max();  // spec.replicas is int32

ScaleTarget parse_target(const Reader& r, const YAML::Node& node) {
  if (!node.IsMap()) throw r.error("target", "expected {kind: Deployment|StatefulSet, name: NAME}");
  ScaleTarget t;
  std::optional<std::string> kind, name;
  for (const auto& kv : node) {
    const auto key = kv.first.as<std::string>();
    if (key == "kind") kind = r.scalar(kv.second, "target.kind");
    else if (key == "name") name = r.scalar(kv.second, "target.name");
    else throw r.error("target", "unknown key '" + key + "' (expected kind, name)");
  }
  if (!kind) throw r.error("target.kind", "required (Deployment or StatefulSet)");
  if (*kind == "Deployment") t.kind = TargetKind::deployment;
  else if (*kind == "StatefulSet") t.kind = TargetKind::statefulset;
  else throw r.error("target.kind", "'" + *kind + "' is not Deployment or StatefulSet");
  if (!name) throw r.error("target.name", "required");
  if (!dns_subdomain(*name)) throw r.error("target.name", "'" + *name + "' is not a valid Kubernetes object name");
  t.name = *name;
  return t;
}

// 4 (pods), "50%" (percent), or {pods: 4, percent: 50}.
void parse_step(const Reader& r, const YAML::Node& node, ScalingPolicyConfig& p) {
  const std::string key = "scale-up-step";
  if (node.IsMap()) {
    p.scale_up_max_pods = 0;
    p.scale_up_max_percent = 0;
    for (const auto& kv : node) {
      const auto k = kv.first.as<std::string>();
      if (k == "pods") p.scale_up_max_pods = static_cast<int>(r.integer(kv.second, key + ".pods", 0, max_replicas_value));
      else if (k == "percent") p.scale_up_max_percent = static_cast<int>(r.integer(kv.second, key + ".percent", 0, 100000));
      else throw r.error(key, "unknown key '" + k + "' (expected pods, percent)");
    }
    return;
  }
  auto text = r.scalar(node, key);
  if (!text.empty() && text.back() == '%') {
    text.pop_back();
    const auto n = whole_number(text);
    if (!n || *n < 0 || *n > 100000) throw r.error(key, "'" + text + "%' is not a percentage (0% to 100000%)");
    p.scale_up_max_pods = 0;
    p.scale_up_max_percent = static_cast<int>(*n);
    return;
  }
  const auto n = whole_number(text);
  if (!n || *n < 0 || *n > max_replicas_value)
    throw r.error(key, "'" + text + "' is neither a number of pods, 'N%', nor {pods: N, percent: P}");
  p.scale_up_max_pods = static_cast<int>(*n);
  p.scale_up_max_percent = 0;
}

}  // namespace

const char* ScaleTarget::kind_name() const { return kind == TargetKind::deployment ? "Deployment" : "StatefulSet"; }

std::string ScaleTarget::scale_path(const std::string& ns) const {
  return "/apis/apps/v1/namespaces/" + ns + (kind == TargetKind::deployment ? "/deployments/" : "/statefulsets/") + name +
         "/scale";
}

std::string ScaleTarget::lease_name(const std::string& ns) const {
  auto n = std::string("wsteer-scaler.") + (kind == TargetKind::deployment ? "deployment." : "statefulset.") + ns + "." + name;
  if (n.size() > 253) throw std::invalid_argument("scaling target " + ns + "/" + name + ": name too long for its Lease (" + n + ")");
  return n;
}

std::chrono::seconds parse_seconds(const std::string& text) {
  if (const auto plain = whole_number(text)) {
    if (*plain < 0) throw std::invalid_argument("'" + text + "' is negative");
    return std::chrono::seconds(*plain);
  }
  // One or more NUMBER UNIT pairs, units h, m, s in that order (as Go's durations, whole seconds).
  long long total = 0;
  std::string_view rest = text;
  const std::string_view units = "hms";
  std::size_t last_unit = std::string_view::npos;
  if (rest.empty()) throw std::invalid_argument("empty duration");
  while (!rest.empty()) {
    const auto digits = std::find_if(rest.begin(), rest.end(), [](char c) { return c < '0' || c > '9'; }) - rest.begin();
    const auto n = whole_number(rest.substr(0, digits));
    const auto unit_at = static_cast<std::size_t>(digits) < rest.size() ? units.find(rest[digits]) : std::string_view::npos;
    if (!n || unit_at == std::string_view::npos || (last_unit != std::string_view::npos && unit_at <= last_unit))
      throw std::invalid_argument("'" + text + "' is not a duration (like 30s, 5m, 1h30m, or seconds)");
    last_unit = unit_at;
    const long long scale = unit_at == 0 ? 3600 : unit_at == 1 ? 60 : 1;
    if (*n > std::numeric_limits<int>::max() / scale) throw std::invalid_argument("'" + text + "' is too long");
    total += *n * scale;
    rest.remove_prefix(digits + 1);
  }
  return std::chrono::seconds(total);
}

ScaleConfig parse_scale_config(const YAML::Node& node, const std::string& where) {
  ScaleConfig c;
  if (!node.IsDefined() || node.IsNull()) return c;
  const Reader r(where);
  if (!node.IsMap()) throw r.error("", "expected a mapping (target, target-connections-per-pod, max-replicas, ...)");
  c.enabled = true;
  bool have_target = false, have_per_pod = false, have_max = false;
  for (const auto& kv : node) {
    const auto key = kv.first.as<std::string>();
    const auto& v = kv.second;
    if (key == "enabled") {
      const auto text = r.scalar(v, key);
      if (text == "true") c.enabled = true;
      else if (text == "false") c.enabled = false;
      else throw r.error(key, "'" + text + "' is not true or false");
    } else if (key == "mode") {
      const auto text = r.scalar(v, key);
      if (text == "patch") c.mode = ScaleMode::patch;
      else if (text == "keda") c.mode = ScaleMode::keda;
      else throw r.error(key, "'" + text + "' is not patch or keda");
    } else if (key == "target") {
      c.target = parse_target(r, v);
      have_target = true;
    } else if (key == "target-connections-per-pod") {
      c.policy.target_connections_per_pod = static_cast<std::uint64_t>(r.integer(v, key, 1, std::numeric_limits<long long>::max()));
      have_per_pod = true;
    } else if (key == "min-replicas") {
      c.policy.min_replicas = static_cast<int>(r.integer(v, key, 1, max_replicas_value));
    } else if (key == "max-replicas") {
      c.policy.max_replicas = static_cast<int>(r.integer(v, key, 1, max_replicas_value));
      have_max = true;
    } else if (key == "scale-up-step") {
      parse_step(r, v, c.policy);
    } else if (key == "scale-down-window") {
      c.policy.scale_down_window = r.seconds(v, key);
    } else if (key == "report-stale-after") {
      c.policy.report_stale_after = r.seconds(v, key);
      if (c.policy.report_stale_after.count() < 1) throw r.error(key, "must be at least 1s");
    } else if (key == "tolerance") {
      const auto text = r.scalar(v, key);
      try {
        std::size_t used = 0;
        c.policy.tolerance = std::stod(text, &used);
        if (used != text.size()) throw std::invalid_argument(text);
      } catch (const std::exception&) {
        throw r.error(key, "'" + text + "' is not a number");
      }
      if (!(c.policy.tolerance >= 0 && c.policy.tolerance < 1)) throw r.error(key, text + " is not in [0, 1)");
    } else {
      throw r.error("", "unknown key '" + key +
                            "' (expected target, target-connections-per-pod, min-replicas, max-replicas, "
                            "scale-up-step, scale-down-window, report-stale-after, tolerance, mode, enabled)");
    }
  }
  if (!c.enabled) return ScaleConfig{};  // switched off: nothing else matters, nothing else is kept
  if (!have_target) throw r.error("target", "required: {kind: Deployment|StatefulSet, name: NAME}");
  if (!have_per_pod) throw r.error("target-connections-per-pod", "required");
  if (!have_max) throw r.error("max-replicas", "required");
  if (c.policy.max_replicas < c.policy.min_replicas)
    throw r.error("max-replicas", std::to_string(c.policy.max_replicas) + " is below min-replicas " +
                                      std::to_string(c.policy.min_replicas));
  validate(c.policy);  // everything is checked above; this keeps the two in step
  return c;
}

}  // namespace wsteer::scaler
