#include "app/agent_config.h"
#include "app/xdp_settings.h"

#include "scaler/lease_election.h"
#include "scaler/scale_config.h"

#include <CLI/CLI.hpp>
#include <boost/url/parse.hpp>
#include <yaml-cpp/yaml.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iterator>
#include <set>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string_view>

namespace wsteer::app {
namespace {

// Every setting as it may come from a flag or from the YAML file (same names).
struct Settings {
  std::vector<std::string> service_flags;               // --service, repeated
  std::optional<std::vector<ServiceConfig>> services;  // YAML services:
  std::optional<std::string> kubeconfig;
  std::optional<std::string> listen, endpoints_file, metrics_listen, bpffs, control_socket, datapath, log_level, log_format,
      hash_key, sticky_cookie, cookie_secret_file, cookie_path, cookie_same_site;
  std::optional<bool> cookie_secure, cookie_http_only;
  std::optional<std::uint32_t> cookie_max_age;
  std::optional<unsigned> workers;
  std::optional<double> kube_watch_timeout;
  std::optional<double> shutdown_grace, balance_factor, handshake_timeout, connect_timeout;
  std::optional<std::uint32_t> maglev_size;
  std::optional<std::uint64_t> splice_buffer_limit;
  // Plain HTTP (docs/http.md).
  std::optional<double> http_idle_timeout, http_response_timeout;
  std::optional<std::uint64_t> http_body_limit;
  // Dead peers (proxy/tcp_liveness.h).
  std::optional<unsigned> tcp_keepalive_idle, tcp_keepalive_interval, tcp_keepalive_count;
  std::optional<double> tcp_user_timeout;
  // The scaler (docs/scaling.md).
  std::optional<std::string> pod_name, pod_namespace, peers_service, scaler_sync_period, scaler_lease_duration,
      scaler_renew_deadline, scaler_retry_period;
  XdpSettings xdp;  // --xdp-* / xdp-*
  std::optional<double> rebalance_above;
  std::optional<std::uint32_t> rebalance_rate;
  std::optional<std::string> rebalance_min_age, rebalance_close_timeout;
};

template <typename T>
void take(std::optional<T>& into, const YAML::Node& node, const char* key) {
  try {
    into = node.as<T>();
  } catch (const YAML::Exception& e) {
    throw std::invalid_argument(std::string("config key '") + key + "': " + e.msg);
  }
}

// `origin` names the document in messages: the file's path, or "(text)".
Settings read_yaml_settings(const YAML::Node& root, const std::string& origin) {
  Settings s;
  if (root.IsNull()) return s;
  if (!root.IsMap()) throw std::invalid_argument("config " + origin + ": expected a mapping of settings");
  for (const auto& kv : root) {
    const auto key = kv.first.as<std::string>();
    const auto& v = kv.second;
    if (key == "listen") take(s.listen, v, "listen");
    else if (key == "endpoints-file") take(s.endpoints_file, v, "endpoints-file");
    else if (key == "kubeconfig") take(s.kubeconfig, v, "kubeconfig");
    else if (key == "kube-watch-timeout") take(s.kube_watch_timeout, v, "kube-watch-timeout");
    else if (key == "services") {
      if (!v.IsSequence()) throw std::invalid_argument("config key 'services': expected a list of services");
      s.services.emplace();
      for (std::size_t i = 0; i < v.size(); ++i)
        s.services->push_back(parse_service_yaml(v[i], "config services[" + std::to_string(i) + "]"));
    }
    else if (key == "metrics-listen") take(s.metrics_listen, v, "metrics-listen");
    else if (key == "bpffs") take(s.bpffs, v, "bpffs");
    else if (key == "control-socket") take(s.control_socket, v, "control-socket");
    else if (key == "datapath") take(s.datapath, v, "datapath");
    else if (key == "workers") take(s.workers, v, "workers");
    else if (key == "shutdown-grace") take(s.shutdown_grace, v, "shutdown-grace");
    else if (key == "log-level") take(s.log_level, v, "log-level");
    else if (key == "log-format") take(s.log_format, v, "log-format");
    else if (key == "handshake-timeout") take(s.handshake_timeout, v, "handshake-timeout");
    else if (key == "connect-timeout") take(s.connect_timeout, v, "connect-timeout");
    else if (key == "tcp-keepalive-idle") take(s.tcp_keepalive_idle, v, "tcp-keepalive-idle");
    else if (key == "tcp-keepalive-interval") take(s.tcp_keepalive_interval, v, "tcp-keepalive-interval");
    else if (key == "tcp-keepalive-count") take(s.tcp_keepalive_count, v, "tcp-keepalive-count");
    else if (key == "tcp-user-timeout") take(s.tcp_user_timeout, v, "tcp-user-timeout");
    else if (key == "hash-key") {
      if (v.IsSequence()) {  // accept a YAML list as well as "a,b"
        std::string joined;
        for (const auto& item : v) joined += (joined.empty() ? "" : ",") + item.as<std::string>();
        s.hash_key = joined;
      } else {
        take(s.hash_key, v, "hash-key");
      }
    } else if (key == "sticky-cookie") take(s.sticky_cookie, v, "sticky-cookie");
    else if (key == "cookie-secret-file") take(s.cookie_secret_file, v, "cookie-secret-file");
    else if (key == "cookie-path") take(s.cookie_path, v, "cookie-path");
    else if (key == "cookie-max-age") take(s.cookie_max_age, v, "cookie-max-age");
    else if (key == "cookie-secure") take(s.cookie_secure, v, "cookie-secure");
    else if (key == "cookie-http-only") take(s.cookie_http_only, v, "cookie-http-only");
    else if (key == "cookie-same-site") take(s.cookie_same_site, v, "cookie-same-site");
    else if (key == "balance-factor") take(s.balance_factor, v, "balance-factor");
    else if (key == "maglev-size") take(s.maglev_size, v, "maglev-size");
    else if (key == "splice-buffer-limit") take(s.splice_buffer_limit, v, "splice-buffer-limit");
    else if (key == "http-idle-timeout") take(s.http_idle_timeout, v, "http-idle-timeout");
    else if (key == "http-response-timeout") take(s.http_response_timeout, v, "http-response-timeout");
    else if (key == "http-body-limit") take(s.http_body_limit, v, "http-body-limit");
    else if (key == "pod-name") take(s.pod_name, v, "pod-name");
    else if (key == "pod-namespace") take(s.pod_namespace, v, "pod-namespace");
    else if (key == "peers-service") take(s.peers_service, v, "peers-service");
    else if (key == "scaler-sync-period") take(s.scaler_sync_period, v, "scaler-sync-period");
    else if (key == "scaler-lease-duration") take(s.scaler_lease_duration, v, "scaler-lease-duration");
    else if (key == "scaler-renew-deadline") take(s.scaler_renew_deadline, v, "scaler-renew-deadline");
    else if (key == "scaler-retry-period") take(s.scaler_retry_period, v, "scaler-retry-period");
    else if (s.xdp.read_yaml(key, v)) continue;
    else if (key == "rebalance-above") take(s.rebalance_above, v, "rebalance-above");
    else if (key == "rebalance-rate") take(s.rebalance_rate, v, "rebalance-rate");
    else if (key == "rebalance-min-age") take(s.rebalance_min_age, v, "rebalance-min-age");
    else if (key == "rebalance-close-timeout") take(s.rebalance_close_timeout, v, "rebalance-close-timeout");
    else throw std::invalid_argument("config " + origin + ": unknown key '" + key + "'");
  }
  return s;
}

// A node of the wrong shape where no take() names the key (a list item that is a mapping, a
// mapping as a key, deep in a service's block) throws yaml-cpp's bare "bad conversion": say at
// least which document, line and column (found by fuzz_agent_config).
Settings read_yaml_root(const YAML::Node& root, const std::string& origin) {
  try {
    return read_yaml_settings(root, origin);
  } catch (const YAML::Exception& e) {
    throw std::invalid_argument("config " + origin + ": " + e.what());
  }
}

Settings read_yaml(const std::filesystem::path& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path.string());
  } catch (const YAML::Exception& e) {
    throw std::invalid_argument("config " + path.string() + ": " + e.what());
  }
  return read_yaml_root(root, path.string());
}

// Flags win over the file: fill in only what the command line left unset.
void merge(Settings& flags, const Settings& file) {
  auto fill = [](auto& into, const auto& from) {
    if (!into && from) into = from;
  };
  fill(flags.listen, file.listen);
  fill(flags.endpoints_file, file.endpoints_file);
  fill(flags.kubeconfig, file.kubeconfig);
  fill(flags.kube_watch_timeout, file.kube_watch_timeout);
  if (flags.service_flags.empty()) fill(flags.services, file.services);  // --service replaces the file's list
  fill(flags.metrics_listen, file.metrics_listen);
  fill(flags.bpffs, file.bpffs);
  fill(flags.control_socket, file.control_socket);
  fill(flags.datapath, file.datapath);
  fill(flags.log_level, file.log_level);
  fill(flags.log_format, file.log_format);
  fill(flags.hash_key, file.hash_key);
  fill(flags.sticky_cookie, file.sticky_cookie);
  fill(flags.cookie_secret_file, file.cookie_secret_file);
  fill(flags.cookie_path, file.cookie_path);
  fill(flags.cookie_max_age, file.cookie_max_age);
  fill(flags.cookie_secure, file.cookie_secure);
  fill(flags.cookie_http_only, file.cookie_http_only);
  fill(flags.cookie_same_site, file.cookie_same_site);
  fill(flags.workers, file.workers);
  fill(flags.shutdown_grace, file.shutdown_grace);
  fill(flags.balance_factor, file.balance_factor);
  fill(flags.handshake_timeout, file.handshake_timeout);
  fill(flags.connect_timeout, file.connect_timeout);
  fill(flags.tcp_keepalive_idle, file.tcp_keepalive_idle);
  fill(flags.tcp_keepalive_interval, file.tcp_keepalive_interval);
  fill(flags.tcp_keepalive_count, file.tcp_keepalive_count);
  fill(flags.tcp_user_timeout, file.tcp_user_timeout);
  fill(flags.maglev_size, file.maglev_size);
  fill(flags.splice_buffer_limit, file.splice_buffer_limit);
  fill(flags.http_idle_timeout, file.http_idle_timeout);
  fill(flags.http_response_timeout, file.http_response_timeout);
  fill(flags.http_body_limit, file.http_body_limit);
  fill(flags.pod_name, file.pod_name);
  fill(flags.pod_namespace, file.pod_namespace);
  fill(flags.peers_service, file.peers_service);
  fill(flags.scaler_sync_period, file.scaler_sync_period);
  fill(flags.scaler_lease_duration, file.scaler_lease_duration);
  fill(flags.scaler_renew_deadline, file.scaler_renew_deadline);
  fill(flags.scaler_retry_period, file.scaler_retry_period);
  flags.xdp.fill_from(file.xdp);
  fill(flags.rebalance_above, file.rebalance_above);
  fill(flags.rebalance_rate, file.rebalance_rate);
  fill(flags.rebalance_min_age, file.rebalance_min_age);
  fill(flags.rebalance_close_timeout, file.rebalance_close_timeout);
}

std::string read_secret(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument("cannot read cookie secret file " + path.string());
  std::string secret((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  return secret;
}

std::chrono::milliseconds to_ms(double seconds, const char* what) {
  if (!(seconds > 0)) throw std::invalid_argument(std::string(what) + " must be > 0 seconds");
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

// The Services to balance: --service flags, else the YAML list, else the classic --listen with
// --endpoints-file (one file service named "default").
std::vector<ServiceConfig> services_of(const Settings& s) {
  std::vector<ServiceConfig> services;
  if (!s.service_flags.empty()) {
    for (const auto& flag : s.service_flags) services.push_back(parse_service_flag(flag));
    if (s.endpoints_file)
      throw std::invalid_argument("--endpoints-file goes with --listen for a file service, not with --service "
                                  "(list file services under services: in --config)");
    if (s.listen) {
      if (services.size() != 1 || services[0].listen.port() != 0)
        throw std::invalid_argument("--listen names the address of a single --service given without =HOST:PORT");
      services[0].listen = parse_endpoint(*s.listen, "--listen");
    }
  } else if (s.services && !s.services->empty()) {
    services = *s.services;
    if (s.listen || s.endpoints_file)
      throw std::invalid_argument("--listen/--endpoints-file and a services: list do not go together");
  } else {
    if (!s.listen) throw std::invalid_argument("--listen HOST:PORT is required (or --service NAMESPACE/NAME=HOST:PORT)");
    if (!s.endpoints_file) throw std::invalid_argument("--endpoints-file FILE is required with --listen (or --service)");
    ServiceConfig file;
    file.name = "default";
    file.listen = parse_endpoint(*s.listen, "--listen");
    file.endpoints_file = *s.endpoints_file;
    services.push_back(std::move(file));
  }
  validate_services(services);
  return services;
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

std::chrono::seconds seconds_setting(const std::string& text, const char* key) {
  try {
    return scaler::parse_seconds(text);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string(key) + ": " + e.what());
  }
}

// The scaler's settings; checked only when some Service scales (they are inert otherwise).
ScalerSettings scaler_settings(const Settings& s, const std::vector<ServiceConfig>& services) {
  ScalerSettings c;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  c.pod_name = s.pod_name.value_or(env_or("POD_NAME", host));
  c.pod_namespace = s.pod_namespace.value_or(env_or("POD_NAMESPACE", ""));
  if (s.peers_service) {
    auto ref = KubernetesServiceRef::parse(*s.peers_service);
    if (ref.port.empty()) ref.port = "metrics";
    c.peers_service = ref;
  }
  if (s.scaler_sync_period) c.sync_period = seconds_setting(*s.scaler_sync_period, "scaler-sync-period");
  if (s.scaler_lease_duration) c.lease_duration = seconds_setting(*s.scaler_lease_duration, "scaler-lease-duration");
  if (s.scaler_renew_deadline) c.renew_deadline = seconds_setting(*s.scaler_renew_deadline, "scaler-renew-deadline");
  if (s.scaler_retry_period) c.retry_period = seconds_setting(*s.scaler_retry_period, "scaler-retry-period");

  std::set<std::string> targets;
  const ServiceConfig* first = nullptr;
  for (const auto& svc : services) {
    if (!svc.scaling.enabled) continue;
    if (!svc.kubernetes)
      throw std::invalid_argument("service " + svc.name + ": scaling needs a Kubernetes Service (service: NAMESPACE/NAME), "
                                  "whose namespace holds the target workload");
    const auto key = std::string(svc.scaling.target.kind_name()) + " " + svc.kubernetes->ns + "/" + svc.scaling.target.name;
    if (!targets.insert(key).second)
      throw std::invalid_argument("service " + svc.name + ": " + key + " is scaled by another service too (one scaler per workload)");
    if (!first) first = &svc;
  }
  if (!first) return c;
  const auto need = [&](bool ok, const std::string& what) {
    if (!ok) throw std::invalid_argument("service " + first->name + " scales " + first->scaling.target.name + ": " + what);
  };
  need(!c.pod_namespace.empty(), "give --pod-namespace (or env POD_NAMESPACE): the namespace of the election Lease");
  need(c.peers_service.has_value(),
       "give --peers-service NAMESPACE/NAME: the Service whose EndpointSlices list every agent (the chart's metrics Service)");
  need(c.sync_period.count() >= 1, "scaler-sync-period must be at least 1s");
  scaler::LeaseElectionConfig election{c.pod_namespace, first->scaling.target.lease_name(first->kubernetes->ns), c.pod_name,
                                       c.lease_duration, c.renew_deadline, c.retry_period};
  try {
    scaler::validate(election);
  } catch (const std::invalid_argument& e) {
    need(false, e.what());
  }
  return c;
}

AgentConfig build(const Settings& s) {
  AgentConfig c;
  c.services = services_of(s);
  if (s.kubeconfig) c.kubeconfig = *s.kubeconfig;
  if (s.kube_watch_timeout) {
    if (!(*s.kube_watch_timeout >= 1)) throw std::invalid_argument("kube-watch-timeout must be >= 1 second");
    c.kube_watch_timeout = std::chrono::seconds(static_cast<long long>(*s.kube_watch_timeout));
  }
  if (s.metrics_listen) c.metrics_listen = parse_endpoint(*s.metrics_listen, "--metrics-listen");
  if (s.bpffs) c.bpffs = *s.bpffs;
  if (s.control_socket) c.control_socket = *s.control_socket;
  if (s.datapath) {
    if (*s.datapath == "splice") c.proxy.datapath = proxy::DatapathMode::splice;
    else if (*s.datapath == "userspace") c.proxy.datapath = proxy::DatapathMode::userspace;
    else throw std::invalid_argument("--datapath must be splice or userspace, not '" + *s.datapath + "'");
  }
  if (s.workers) c.workers = *s.workers;
  if (s.shutdown_grace) c.shutdown_grace = std::chrono::seconds(static_cast<long long>(*s.shutdown_grace));
  if (s.log_level) c.log_level = *s.log_level;
  if (s.log_format) c.log_format = *s.log_format;
  if (s.handshake_timeout) c.proxy.handshake_timeout = to_ms(*s.handshake_timeout, "handshake-timeout");
  if (s.connect_timeout) c.proxy.connect_timeout = to_ms(*s.connect_timeout, "connect-timeout");
  if (s.tcp_keepalive_idle) c.proxy.tcp_keepalive_idle = std::chrono::seconds(*s.tcp_keepalive_idle);
  if (s.tcp_keepalive_interval) {
    if (*s.tcp_keepalive_interval == 0) throw std::invalid_argument("tcp-keepalive-interval must be >= 1 second");
    c.proxy.tcp_keepalive_interval = std::chrono::seconds(*s.tcp_keepalive_interval);
  }
  if (s.tcp_keepalive_count) {
    if (*s.tcp_keepalive_count == 0 || *s.tcp_keepalive_count > 127)
      throw std::invalid_argument("tcp-keepalive-count must be 1..127");
    c.proxy.tcp_keepalive_count = *s.tcp_keepalive_count;
  }
  if (s.tcp_user_timeout) {
    if (*s.tcp_user_timeout < 0) throw std::invalid_argument("tcp-user-timeout must be >= 0 seconds");
    c.proxy.tcp_user_timeout = std::chrono::milliseconds(static_cast<long long>(*s.tcp_user_timeout * 1000));
  }
  if (s.hash_key) c.steering.hash_key = steering::parse_hash_key_list(*s.hash_key);
  if (s.sticky_cookie) c.steering.cookie.name = *s.sticky_cookie;
  if (s.cookie_secret_file) {
    c.steering.cookie.secret = read_secret(*s.cookie_secret_file);
  } else if (const char* env = std::getenv("WSTEER_COOKIE_SECRET")) {
    c.steering.cookie.secret = env;
  }
  auto& cookie = c.steering.cookie;
  if (s.cookie_path) cookie.path = *s.cookie_path;
  if (s.cookie_max_age) cookie.max_age_seconds = *s.cookie_max_age;
  if (s.cookie_secure) cookie.secure = *s.cookie_secure;
  if (s.cookie_http_only) cookie.http_only = *s.cookie_http_only;
  if (s.cookie_same_site) cookie.same_site = *s.cookie_same_site;
  if (s.balance_factor) c.steering.balance_factor = *s.balance_factor;
  if (s.maglev_size) c.steering.maglev_size = *s.maglev_size;
  if (s.splice_buffer_limit) c.proxy.splice_buffer_limit = *s.splice_buffer_limit;
  if (s.rebalance_above) {
    if (!(*s.rebalance_above == 0 || *s.rebalance_above > 1.0))
      throw std::invalid_argument("rebalance-above must be 0 (off) or greater than 1.0 (e.g. 1.2), not " +
                                  std::to_string(*s.rebalance_above));
    c.rebalance.above = *s.rebalance_above;
  }
  if (s.rebalance_rate) {
    if (*s.rebalance_rate < 1) throw std::invalid_argument("rebalance-rate must be at least 1 flow per second");
    c.rebalance.rate = *s.rebalance_rate;
  }
  if (s.rebalance_min_age) c.rebalance.min_age = parse_duration(*s.rebalance_min_age, "rebalance-min-age");
  if (s.rebalance_close_timeout) {
    const auto t = std::chrono::duration_cast<std::chrono::milliseconds>(
        parse_duration(*s.rebalance_close_timeout, "rebalance-close-timeout"));
    // Below 100 ms a client on any real network cannot answer; above 10 minutes a flow that will
    // never close holds its sockets and a "closing" slot for no reason.
    if (t < std::chrono::milliseconds(100) || t > std::chrono::minutes(10))
      throw std::invalid_argument("rebalance-close-timeout must be between 100ms and 10m, not '" +
                                  *s.rebalance_close_timeout + "'");
    c.rebalance.close_timeout = t;
  }
  if (c.rebalance.above > 0 && c.proxy.datapath != proxy::DatapathMode::splice)
    throw std::invalid_argument("rebalance-above needs --datapath splice (it closes spliced flows)");
  if (s.http_idle_timeout) c.proxy.http_idle_timeout = to_ms(*s.http_idle_timeout, "http-idle-timeout");
  if (s.http_response_timeout) c.proxy.http_response_timeout = to_ms(*s.http_response_timeout, "http-response-timeout");
  if (s.http_body_limit) c.proxy.http_body_limit = *s.http_body_limit;
  steering::validate_steering_config(c.steering);
  c.scaler = scaler_settings(s, c.services);
  c.xdp = s.xdp.build();
  return c;
}

}  // namespace

boost::asio::ip::tcp::endpoint parse_endpoint(const std::string& text, const std::string& what) {
  auto authority = boost::urls::parse_authority(text);
  if (!authority || !authority->has_port() || authority->port().empty())
    throw std::invalid_argument(what + ": expected HOST:PORT, got '" + text + "'");
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(authority->host_address(), ec);
  if (ec) throw std::invalid_argument(what + ": '" + std::string(authority->host_address()) + "' is not an IP address");
  const auto port = authority->port_number();
  if (port == 0 && authority->port() != "0") throw std::invalid_argument(what + ": bad port in '" + text + "'");
  return {address, port};
}

// Seconds ("90", "1.5"), or NUMBER UNIT parts with units h, m, s, ms in that order: "30s", "5m",
// "1h30m", "500ms" (what the chart's duration type allows, and Go's durations).
std::chrono::nanoseconds parse_duration(const std::string& text, const std::string& what) {
  static constexpr std::pair<std::string_view, double> kUnits[] = {{"h", 3600}, {"m", 60}, {"s", 1}, {"ms", 0.001}};
  const auto expected = [&] {
    return std::invalid_argument(what + ": expected a duration such as 90, 30s, 5m, 1h30m or 500ms, got '" + text + "'");
  };
  if (!text.empty() && text.front() == '-') throw std::invalid_argument(what + " must not be negative, got '" + text + "'");
  double seconds = 0;
  std::size_t at = 0, next_unit = 0;
  do {
    std::size_t used = 0;
    double value = 0;
    try {
      value = std::stod(text.substr(at), &used);
    } catch (const std::exception&) {
      throw expected();
    }
    if (!std::isfinite(value)) throw expected();
    if (value < 0) throw std::invalid_argument(what + " must not be negative, got '" + text + "'");
    at += used;
    const auto unit_end = text.find_first_of("0123456789.", at);
    const std::string unit = text.substr(at, unit_end == std::string::npos ? std::string::npos : unit_end - at);
    if (unit.empty()) {
      if (at == used && value <= 1e9) return std::chrono::nanoseconds(static_cast<long long>(value * 1e9));  // plain seconds
      throw expected();  // "1m30": a number without its unit after another part
    }
    std::size_t u = next_unit;
    while (u < std::size(kUnits) && kUnits[u].first != unit) ++u;
    if (u == std::size(kUnits)) {
      const bool known = std::any_of(std::begin(kUnits), std::end(kUnits), [&](const auto& k) { return k.first == unit; });
      throw std::invalid_argument(what + (known ? ": units out of order in '" : ": unknown unit '" + unit + "' in '") + text +
                                  "' (h, m, s, ms, largest first)");
    }
    seconds += value * kUnits[u].second;
    next_unit = u + 1;
    at += unit.size();
  } while (at < text.size());
  if (seconds > 1e9) throw std::invalid_argument(what + ": '" + text + "' is too long");
  return std::chrono::nanoseconds(static_cast<long long>(seconds * 1e9));
}

std::string format_endpoint(const boost::asio::ip::tcp::endpoint& e) {
  const auto host = e.address().is_v6() ? "[" + e.address().to_string() + "]" : e.address().to_string();
  return host + ":" + std::to_string(e.port());
}

AgentConfig agent_config_from_yaml(const std::string& yaml_text) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw std::invalid_argument(std::string("config (text): ") + e.what());
  }
  return build(read_yaml_root(root, "(text)"));
}

AgentConfig parse_agent_config(int argc, char** argv) {
  CLI::App app{"wsteer-agent: WebSocket load balancer node agent; spliced flows move in the kernel"};
  app.set_version_flag("--version", "wsteer-agent 0.1.0");
  Settings flags;
  std::optional<std::string> config_file;
  app.add_option("--listen", flags.listen, "HOST:PORT the clients connect to");
  app.add_option("--endpoints-file", flags.endpoints_file, "backends, one '[NAME ]HOST:PORT' per line; re-read on change");
  app.add_option("--service", flags.service_flags,
                 "NAMESPACE/NAME[:PORT][=HOST:PORT]: balance a Kubernetes Service's pods (EndpointSlices), its "
                 "clients connecting at HOST:PORT; repeatable")
      ->take_all();
  app.add_option("--kubeconfig", flags.kubeconfig, "kubeconfig for out-of-cluster use (default: in-cluster ServiceAccount)");
  app.add_option("--kube-watch-timeout", flags.kube_watch_timeout,
                 "seconds each EndpointSlice watch lasts before it is renewed (default 290)");
  bool takeover = false;
  app.add_flag("--takeover", takeover,
               "take over the listeners and spliced flows of the agent running on the same --bpffs (hand-off)");
  bool idle_after_handoff = false;
  app.add_flag("--idle-after-handoff", idle_after_handoff,
               "after handing over to a --takeover successor, wait for SIGTERM instead of exiting (in pods)");
  bool check_only = false;
  app.add_flag("--check-config", check_only, "parse and validate the settings, print a summary and exit");
  app.add_option("--metrics-listen", flags.metrics_listen, "HOST:PORT for /metrics, /healthz, /readyz");
  app.add_option("--bpffs", flags.bpffs, "folder on bpffs where the maps are pinned (default /sys/fs/bpf/wsteer)");
  app.add_option("--control-socket", flags.control_socket,
                 "Unix socket for wsteerctl (default /run/wsteer/<basename of --bpffs>.sock, root only)");
  app.add_option("--datapath", flags.datapath, "splice (kernel, default) or userspace (Asio copy)");
  app.add_option("--config", config_file, "YAML file with the same settings; flags win");
  app.add_option("--workers", flags.workers, "worker threads (default: one per CPU)");
  app.add_option("--shutdown-grace", flags.shutdown_grace, "seconds established flows may live after SIGTERM (default 30)");
  app.add_option("--log-level", flags.log_level, "trace|debug|info|warn|error (default info)");
  app.add_option("--log-format", flags.log_format, "plain|json (default plain)");
  app.add_option("--handshake-timeout", flags.handshake_timeout, "seconds a client has to send its request (default 10)");
  app.add_option("--connect-timeout", flags.connect_timeout, "seconds per backend connect attempt (default 3)");
  app.add_option("--tcp-keepalive-idle", flags.tcp_keepalive_idle,
                 "seconds a connection may be idle before TCP keepalive probes it (0 = no keepalive; default 60)");
  app.add_option("--tcp-keepalive-interval", flags.tcp_keepalive_interval, "seconds between keepalive probes (default 10)");
  app.add_option("--tcp-keepalive-count", flags.tcp_keepalive_count, "unanswered keepalive probes that end a connection (default 6)");
  app.add_option("--tcp-user-timeout", flags.tcp_user_timeout,
                 "seconds sent bytes may stay unacknowledged before the connection ends (TCP_USER_TIMEOUT; 0 = kernel's; default 120)");
  app.add_option("--hash-key", flags.hash_key, "key sources tried in order, e.g. query:room,sec-websocket-key");
  app.add_option("--sticky-cookie", flags.sticky_cookie, "name of the signed cookie naming the chosen backend");
  app.add_option("--cookie-secret-file", flags.cookie_secret_file, "file with the HMAC secret (or env WSTEER_COOKIE_SECRET)");
  app.add_option("--cookie-path", flags.cookie_path, "sticky cookie Path (default /)");
  app.add_option("--cookie-max-age", flags.cookie_max_age, "sticky cookie Max-Age in seconds (default 3600)");
  app.add_option("--cookie-secure", flags.cookie_secure, "sticky cookie Secure attribute (true|false, default false)");
  app.add_option("--cookie-http-only", flags.cookie_http_only, "sticky cookie HttpOnly attribute (true|false, default true)");
  app.add_option("--cookie-same-site", flags.cookie_same_site, "sticky cookie SameSite: Strict|Lax|None (default Lax)");
  app.add_option("--balance-factor", flags.balance_factor, "bounded load: max active per backend as a factor of the mean (e.g. 1.25)");
  app.add_option("--maglev-size", flags.maglev_size, "Maglev table size, a prime > 100 x backends (default 65537)");
  app.add_option("--pod-name", flags.pod_name, "this agent's name for the scaler (default $POD_NAME, else the host name)");
  app.add_option("--pod-namespace", flags.pod_namespace, "namespace of the scaler's election Leases (default $POD_NAMESPACE)");
  app.add_option("--peers-service", flags.peers_service,
                 "NAMESPACE/NAME[:PORT] of the Service listing every agent (the chart's metrics Service; port 'metrics')");
  app.add_option("--scaler-sync-period", flags.scaler_sync_period, "seconds between scaling decisions (default 15s)");
  app.add_option("--scaler-lease-duration", flags.scaler_lease_duration, "election lease duration (default 15s)");
  app.add_option("--scaler-renew-deadline", flags.scaler_renew_deadline, "election renew deadline (default 10s)");
  app.add_option("--scaler-retry-period", flags.scaler_retry_period, "election retry period (default 2s)");
  app.add_option("--splice-buffer-limit", flags.splice_buffer_limit,
                 "Per flow and direction, bytes a spliced flow may hold between sender and a slow reader "
                 "before TCP slows the sender (e.g. 4MiB; 0 = no limit; default 4MiB)")
      ->transform(CLI::AsSizeValue(false));
  flags.xdp.add_flags(app);
  app.add_option("--rebalance-above", flags.rebalance_above,
                 "close the oldest flows of a backend holding more than F x its Service's mean active "
                 "connections, with a WebSocket close 1012 (0 = off, default; else > 1.0, e.g. 1.2)");
  app.add_option("--rebalance-rate", flags.rebalance_rate, "at most N rebalance closes per second by this agent (default 10)");
  app.add_option("--rebalance-min-age", flags.rebalance_min_age,
                 "never close a flow younger than this (seconds, or 30s/5m; default 60s)");
  app.add_option("--rebalance-close-timeout", flags.rebalance_close_timeout,
                 "a client that has not finished the close this long after its 1012 gets both sides closed "
                 "(seconds, or 500ms/30s; default 5s)");
  app.add_option("--http-idle-timeout", flags.http_idle_timeout,
                 "seconds a plain-HTTP keep-alive connection may wait for its next request (default 60)");
  app.add_option("--http-response-timeout", flags.http_response_timeout,
                 "seconds a backend has to start its answer to a plain-HTTP request, else 504 (default 60)");
  app.add_option("--http-body-limit", flags.http_body_limit,
                 "largest plain-HTTP request body in bytes, else 413; 0: no limit (default 67108864)");
  try {
    app.parse(argc, argv);
    if (config_file) merge(flags, read_yaml(*config_file));
    auto config = build(flags);
    config.check_only = check_only;
    config.takeover = takeover;
    config.idle_after_handoff = idle_after_handoff;
    return config;
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  } catch (const std::exception& e) {
    std::cerr << "wsteer-agent: " << e.what() << "\n";
    std::exit(2);
  }
}

}  // namespace wsteer::app
