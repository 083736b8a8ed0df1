// The Services one agent balances: where each one's clients connect and where its backends come
// from (a watched endpoints file, or a Kubernetes Service's EndpointSlices).
#pragma once

#include "scaler/scale_config.h"

#include <boost/asio/ip/tcp.hpp>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wsteer::app {

// "NAMESPACE/NAME[:PORT]": a Kubernetes Service and the EndpointSlice port to balance (a port
// name or number; empty when the slices carry a single port).
struct KubernetesServiceRef {
  std::string ns, name, port;
  std::string label() const { return ns + "/" + name; }
  // Throws std::invalid_argument with a clear message (names must be DNS-1123 labels).
  static KubernetesServiceRef parse(std::string_view text);
};

struct ServiceConfig {
  std::string name;  // metrics label `service` and wsteerctl's name: "ns/name", or the file service's name
  boost::asio::ip::tcp::endpoint listen;
  std::filesystem::path endpoints_file;            // a file service
  std::optional<KubernetesServiceRef> kubernetes;  // or a Kubernetes one
  std::vector<std::string> hash_key;               // overrides the agent's --hash-key; empty: the agent's
  scaler::ScaleConfig scaling;                     // `scaling:` (Kubernetes services); off by default
};

// One `--service NAMESPACE/NAME[:PORT][=HOST:PORT]` flag value. Without "=HOST:PORT" the listen
// address is left unspecified (port 0) for the caller to fill in from --listen.
ServiceConfig parse_service_flag(std::string_view text);

// One entry of the YAML `services:` list (see README "Services"); `where` names it in errors.
ServiceConfig parse_service_yaml(const YAML::Node& node, const std::string& where);

// Every service must have a listen address, and names and listen addresses must be distinct.
// Throws std::invalid_argument naming the offender.
void validate_services(const std::vector<ServiceConfig>& services);

}  // namespace wsteer::app
