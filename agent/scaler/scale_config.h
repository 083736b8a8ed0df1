// One Service's scaling settings, the `scaling:` block of its `services:` entry (README
// "Scaling"). Off unless the block is there; the target workload lives in the Service's namespace.
//
//   scaling:
//     target: {kind: Deployment, name: chat}   # or StatefulSet
//     target-connections-per-pod: 1000
//     min-replicas: 2                          # default 1
//     max-replicas: 20
//     scale-up-step: 4                         # pods, "100%", or {pods: 4, percent: 100}; default the latter
//     scale-down-window: 5m                    # 300s, 5m, 1h, or plain seconds; default 5m
//     report-stale-after: 30s                  # default 30s
//     tolerance: 0.1                           # default 0.1
//     mode: patch                              # patch (default) or keda
//     enabled: true                            # default true when the block is present
#pragma once

#include "scaler/scaling_policy.h"

#include <yaml-cpp/yaml.h>

#include <string>

namespace wsteer::scaler {

enum class TargetKind { deployment, statefulset };

struct ScaleTarget {
  TargetKind kind = TargetKind::deployment;
  std::string name;
  // "Deployment" / "StatefulSet", as the YAML and the API spell them.
  const char* kind_name() const;
  // "/apis/apps/v1/namespaces/NS/deployments/NAME/scale": the subresource to get and patch.
  std::string scale_path(const std::string& ns) const;
  // The election Lease's name for this target in namespace `ns`, the same on every agent:
  // "wsteer-scaler.deployment.NS.NAME" (namespaces hold no dots, so two targets never share one).
  // Throws std::invalid_argument when it would exceed 253 characters.
  std::string lease_name(const std::string& ns) const;
};

// Who sets spec.replicas: the elected agent itself (patch), or KEDA (keda), to which the elected
// agent only serves the summed connections (GET /v1/scaling on the metrics port).
enum class ScaleMode { patch, keda };

struct ScaleConfig {
  bool enabled = false;
  ScaleMode mode = ScaleMode::patch;
  ScaleTarget target;
  ScalingPolicyConfig policy;
};

// `node` is the value of the `scaling` key: undefined or null means off. `where` names the entry
// in errors ("services[0] (chat) scaling"). Throws std::invalid_argument with a message naming
// the key and what it expects; unknown keys are errors (a typo must not silently turn it off).
ScaleConfig parse_scale_config(const YAML::Node& node, const std::string& where);

// "300s", "5m", "1h30m", "90" (seconds): a whole number of seconds, >= 0. Throws
// std::invalid_argument (without a location: the caller adds it).
std::chrono::seconds parse_seconds(const std::string& text);

}  // namespace wsteer::scaler
