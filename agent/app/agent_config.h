// The agent's settings: defaults, then the YAML file (--config), then flags (flags win).
#pragma once

#include "app/service_config.h"
#include "datapath/xdp_config.h"
#include "proxy/proxy_config.h"
#include "proxy/rebalance_policy.h"
#include "steering/steering_config.h"

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace wsteer::app {

// Agent-wide settings of the connection-based scaler (docs/scaling.md); used only when a
// Service has a `scaling:` block.
struct ScalerSettings {
  std::string pod_name;       // --pod-name, else $POD_NAME, else the host name: the Lease holder, the report's agent
  std::string pod_namespace;  // --pod-namespace, else $POD_NAMESPACE: where the election Leases live
  // --peers-service NS/NAME[:PORT]: the Service whose EndpointSlices list every agent (the chart's
  // metrics Service; port name "metrics" unless given).
  std::optional<KubernetesServiceRef> peers_service;
  std::chrono::seconds sync_period{15};  // one decision per period
  // Leader election, client-go's defaults.
  std::chrono::seconds lease_duration{15}, renew_deadline{10}, retry_period{2};
};

struct AgentConfig {
  // At least one; in configuration order (a Service's index is its place here).
  std::vector<ServiceConfig> services;
  // Out-of-cluster access for Kubernetes services; empty: the in-cluster ServiceAccount.
  std::filesystem::path kubeconfig;
  // timeoutSeconds asked of each EndpointSlice watch before it is renewed (jittered ±10 %).
  std::chrono::seconds kube_watch_timeout{290};
  std::optional<boost::asio::ip::tcp::endpoint> metrics_listen;
  std::filesystem::path bpffs = "/sys/fs/bpf/wsteer";
  // wsteerctl's Unix socket; empty: /run/wsteer/<basename of bpffs>.sock (admin/control_protocol.h).
  std::filesystem::path control_socket;
  unsigned workers = 0;  // 0: one per CPU
  std::chrono::seconds shutdown_grace{30};
  std::string log_level = "info";
  std::string log_format = "plain";
  proxy::ProxyConfig proxy;
  steering::SteeringConfig steering;
  ScalerSettings scaler;
  // The XDP front door (--xdp-interfaces and friends); off while interfaces is empty.
  datapath::XdpConfig xdp;
  // Rebalance after a scale-up (--rebalance-above/-rate/-min-age): off while above == 0.
  proxy::RebalanceSettings rebalance;
  // --check-config: parse and validate everything, print a summary, run nothing.
  bool check_only = false;
  // --takeover: ask the agent running on the same --bpffs to hand over (docs/handoff.md).
  bool takeover = false;
  // --idle-after-handoff: once handed over, stay up (listening on nothing) until SIGTERM instead of
  // exiting. In a pod a container that exits is restarted, and would then take everything back.
  bool idle_after_handoff = false;
};

// Parses the command line (CLI11). Returns the config, or exits the process for --help/--version
// and prints a clear message with exit code 2 on bad input. `argv` as main() got it.
AgentConfig parse_agent_config(int argc, char** argv);

// What `--config FILE` with no flags gives when FILE holds `yaml_text`: parsed, validated, built.
// Throws std::invalid_argument with a clear message on bad input (the YAML fuzzer drives this).
AgentConfig agent_config_from_yaml(const std::string& yaml_text);

// "HOST:PORT" or "[V6]:PORT" with an IP literal; throws std::invalid_argument naming `what`.
boost::asio::ip::tcp::endpoint parse_endpoint(const std::string& text, const std::string& what);
// The inverse: "HOST:PORT", "[V6]:PORT".
std::string format_endpoint(const boost::asio::ip::tcp::endpoint& endpoint);
// "90" (seconds), "30s", "5m", "1h", "500ms" -> a duration; throws std::invalid_argument naming `what`.
std::chrono::nanoseconds parse_duration(const std::string& text, const std::string& what);

}  // namespace wsteer::app
