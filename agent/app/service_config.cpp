#include "app/service_config.h"

#include "app/agent_config.h"
#include "steering/steering_config.h"
#include "wsteer_abi.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <stdexcept>

namespace wsteer::app {
namespace {

// RFC 1123 label, as Kubernetes requires of namespace and Service names.
bool dns_label(std::string_view s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

// A Service port: a number 1-65535 or an IANA service name (lower-case, digits, '-', <= 15).
bool valid_port(std::string_view s) {
  if (!s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    return ec == std::errc{} && end == s.data() + s.size() && value >= 1 && value <= 65535;
  }
  return s.size() <= 15 && dns_label(s) && std::any_of(s.begin(), s.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}


}  // namespace

KubernetesServiceRef KubernetesServiceRef::parse(std::string_view text) {
  const auto bad = [&](const std::string& why) {
    return std::invalid_argument("--service '" + std::string(text) + "': " + why +
                                 " (expected NAMESPACE/NAME[:PORT])");
  };
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) throw bad("no namespace");
  KubernetesServiceRef ref;
  ref.ns = std::string(text.substr(0, slash));
  auto rest = text.substr(slash + 1);
  if (const auto colon = rest.find(':'); colon != std::string_view::npos) {
    ref.port = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (!valid_port(ref.port)) throw bad("port '" + ref.port + "' is neither a number 1-65535 nor a port name");
  }
  ref.name = std::string(rest);
  if (!dns_label(ref.ns)) throw bad("namespace '" + ref.ns + "' is not a DNS-1123 label");
  if (!dns_label(ref.name)) throw bad("name '" + ref.name + "' is not a DNS-1123 label");
  return ref;
}

ServiceConfig parse_service_flag(std::string_view text) {
  ServiceConfig s;
  auto service = text;
  if (const auto eq = text.find('='); eq != std::string_view::npos) {
    service = text.substr(0, eq);
    s.listen = parse_endpoint(std::string(text.substr(eq + 1)), "--service " + std::string(service) + " listen address");
  }
  s.kubernetes = KubernetesServiceRef::parse(service);
  s.name = s.kubernetes->label();
  return s;
}

ServiceConfig parse_service_yaml(const YAML::Node& node, const std::string& where) {
  if (!node.IsMap()) throw std::invalid_argument(where + ": expected a mapping (service, port, listen, ...)");
  ServiceConfig s;
  std::optional<std::string> service, port, name, listen, file;
  const auto text = [&](const YAML::Node& v, const std::string& key) {
    try {
      return v.as<std::string>();
    } catch (const YAML::Exception& e) {
      throw std::invalid_argument(where + " key '" + key + "': " + e.msg);
    }
  };
  for (const auto& kv : node) {
    const auto key = kv.first.as<std::string>();
    const auto& v = kv.second;
    if (key == "service") service = text(v, key);
    else if (key == "port") port = text(v, key);
    else if (key == "name") name = text(v, key);
    else if (key == "listen") listen = text(v, key);
    else if (key == "endpoints-file") file = text(v, key);
    else if (key == "hash-key") {
      std::string joined;
      if (v.IsSequence())
        for (const auto& item : v) joined += (joined.empty() ? "" : ",") + text(item, key);
      else
        joined = text(v, key);
      try {
        s.hash_key = steering::parse_hash_key_list(joined);
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(where + " hash-key: " + e.what());
      }
    } else if (key == "scaling") {
      s.scaling = scaler::parse_scale_config(v, where + " scaling");
    } else {
      throw std::invalid_argument(where + ": unknown key '" + key + "'");
    }
  }
  if (service.has_value() == file.has_value())
    throw std::invalid_argument(where + ": give either 'service: NAMESPACE/NAME' (Kubernetes) or 'endpoints-file: FILE'");
  if (service) {
    s.kubernetes = KubernetesServiceRef::parse(*service + (port ? ":" + *port : ""));
    s.name = name.value_or(s.kubernetes->label());
  } else {
    if (port) throw std::invalid_argument(where + ": 'port' goes with 'service', not with 'endpoints-file'");
    s.endpoints_file = *file;
    s.name = name.value_or("default");
  }
  if (!listen) throw std::invalid_argument(where + " (" + s.name + "): 'listen: HOST:PORT' is required");
  s.listen = parse_endpoint(*listen, where + " listen");
  return s;
}

void validate_services(const std::vector<ServiceConfig>& services) {
  if (services.empty())
    throw std::invalid_argument("nothing to balance: give --service NAMESPACE/NAME[:PORT]=HOST:PORT, "
                                "or --listen HOST:PORT with --endpoints-file FILE, or services: in --config");
  if (services.size() > WSTEER_MAX_SERVICES)
    throw std::invalid_argument("at most " + std::to_string(WSTEER_MAX_SERVICES) + " services per agent");
  std::set<std::string> names, listens;
  for (const auto& s : services) {
    if (s.name.empty() || s.name.size() >= WSTEER_SERVICE_NAME_LEN) throw std::invalid_argument("service name '" + s.name + "': 1 to 127 characters");
    if (s.listen.port() == 0)
      throw std::invalid_argument("service " + s.name + ": no listen address (--service " + s.name +
                                  "=HOST:PORT, or --listen when it is the only one)");
    if (!names.insert(s.name).second) throw std::invalid_argument("service " + s.name + " is configured twice");
    if (!listens.insert(format_endpoint(s.listen)).second)
      throw std::invalid_argument("services share the listen address " + format_endpoint(s.listen) + " (service " + s.name + ")");
  }
}

}  // namespace wsteer::app
