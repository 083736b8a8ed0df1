#include "k8s/cluster_config.h"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <yaml-cpp/binary.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace wsteer::k8s {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + what + " " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string trim(std::string s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

bool is_ipv6_literal(const std::string& host) { return host.find(':') != std::string::npos; }

// server, host and port from an https URL; the URL names the origin only (no path: every target
// the client sends is absolute).
void set_server(ClusterConfig& config, const std::string& url, const std::string& where) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) throw std::runtime_error(where + ": server \"" + url + "\" is not a URL: " + parsed.error().message());
  const auto& u = *parsed;
  if (u.scheme() != "https") throw std::runtime_error(where + ": server \"" + url + "\" must be https");
  if (!u.has_authority() || u.host_address().empty())
    throw std::runtime_error(where + ": server \"" + url + "\" names no host");
  if (!u.path().empty() && u.path() != "/")
    throw std::runtime_error(where + ": server \"" + url + "\" has a path prefix, which is not supported");
  config.host = u.host_address();
  config.port = u.has_port() && !u.port().empty() ? std::string(u.port()) : "443";
  const bool v6 = u.host_type() == boost::urls::host_type::ipv6;
  config.server = "https://" + (v6 ? "[" + config.host + "]" : config.host) + ":" + config.port;
}

// ---- kubeconfig ----

class Kubeconfig {
 public:
  explicit Kubeconfig(const fs::path& path) : path_(path), dir_(fs::absolute(path).parent_path()) {
    try {
      root_ = YAML::LoadFile(path.string());
    } catch (const YAML::BadFile&) {
      fail("cannot read the file");
    } catch (const YAML::Exception& e) {
      fail(std::string("not valid YAML: ") + e.what());
    }
    if (!root_.IsMap()) fail("not a kubeconfig (no top-level mapping)");
  }

  [[noreturn]] void fail(const std::string& why) const { throw std::runtime_error("kubeconfig " + path_.string() + ": " + why); }

  // The `field` body (context/cluster/user) of the entry named `name` in the list `list`.
  YAML::Node entry(const char* list, const char* field, const std::string& name) const {
    const auto items = root_[list];
    if (items && items.IsSequence())
      for (const auto& item : items)
        if (item.IsMap() && item["name"] && scalar(item["name"], std::string(list) + ".name") == name) {
          const auto body = item[field];
          if (!body || !body.IsMap()) fail(std::string(list) + " entry \"" + name + "\" has no " + field);
          return body;
        }
    fail(std::string(list) + ": no entry named \"" + name + "\"");
  }

  std::string scalar(const YAML::Node& node, const std::string& field) const {
    if (!node.IsScalar()) fail(field + " must be a string");
    return node.as<std::string>();
  }
  std::string optional(const YAML::Node& map, const char* key, const std::string& prefix) const {
    const auto node = map[key];
    if (!node || node.IsNull()) return "";
    return scalar(node, prefix + "." + key);
  }
  std::string base64(const YAML::Node& map, const char* key, const std::string& prefix) const {
    const auto text = optional(map, key, prefix);
    if (text.empty()) return "";
    const auto bytes = YAML::DecodeBase64(text);
    if (bytes.empty()) fail(prefix + "." + key + " is not valid base64");
    return std::string(bytes.begin(), bytes.end());
  }
  // `file_key` read (relative to the kubeconfig's folder) or `data_key` decoded; both: an error.
  std::string file_or_data(const YAML::Node& map, const char* file_key, const char* data_key, const std::string& prefix) const {
    const auto file = optional(map, file_key, prefix);
    auto data = base64(map, data_key, prefix);
    if (!file.empty() && !data.empty()) fail(prefix + ": both " + file_key + " and " + data_key + " are set");
    if (file.empty()) return data;
    try {
      return read_file(resolve(file), prefix + "." + file_key);
    } catch (const std::runtime_error& e) {
      fail(e.what());
    }
  }
  fs::path resolve(const std::string& file) const {
    const fs::path p(file);
    return p.is_absolute() ? p : dir_ / p;
  }
  const YAML::Node& root() const { return root_; }

 private:
  fs::path path_, dir_;
  YAML::Node root_;
};

}  // namespace

ClusterConfig load_in_cluster(const fs::path& sa_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port)
    throw std::runtime_error(
        "not running in a Kubernetes pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set "
        "(use --kubeconfig outside a cluster)");
  ClusterConfig config;
  config.origin = "in-cluster";
  const std::string h = host;
  set_server(config, "https://" + (is_ipv6_literal(h) ? "[" + h + "]" : h) + ":" + port, "in-cluster");

  config.token_file = sa_dir / "token";
  std::error_code ec;
  if (!fs::exists(config.token_file, ec))
    throw std::runtime_error("in-cluster: no service account token at " + config.token_file.string() +
                             " (is automountServiceAccountToken off?)");
  if (trim(read_file(config.token_file, "the service account token")).empty())
    throw std::runtime_error("in-cluster: the service account token " + config.token_file.string() + " is empty");
  config.ca_pem = read_file(sa_dir / "ca.crt", "the cluster CA");
  if (trim(config.ca_pem).empty()) throw std::runtime_error("in-cluster: the cluster CA " + (sa_dir / "ca.crt").string() + " is empty");
  if (fs::exists(sa_dir / "namespace", ec)) config.ns = trim(read_file(sa_dir / "namespace", "the pod namespace"));
  return config;
}

ClusterConfig load_kubeconfig(const fs::path& path, const std::string& context) {
  const Kubeconfig kc(path);
  std::string ctx_name = context;
  if (ctx_name.empty()) {
    ctx_name = kc.optional(kc.root(), "current-context", "");
    if (ctx_name.empty()) kc.fail("no current-context set and no context given");
  }
  const auto ctx = kc.entry("contexts", "context", ctx_name);
  const std::string ctx_prefix = "contexts[" + ctx_name + "].context";
  const auto cluster_name = kc.optional(ctx, "cluster", ctx_prefix);
  if (cluster_name.empty()) kc.fail(ctx_prefix + ".cluster is missing");
  const auto user_name = kc.optional(ctx, "user", ctx_prefix);

  ClusterConfig config;
  config.origin = path.string();
  config.ns = kc.optional(ctx, "namespace", ctx_prefix);

  const auto cluster = kc.entry("clusters", "cluster", cluster_name);
  const std::string cl = "clusters[" + cluster_name + "].cluster";
  if (const auto skip = cluster["insecure-skip-tls-verify"]; skip && skip.IsScalar() && skip.as<bool>(false))
    kc.fail(cl + ".insecure-skip-tls-verify is not supported: the server's certificate is always verified");
  const auto server = kc.optional(cluster, "server", cl);
  if (server.empty()) kc.fail(cl + ".server is missing");
  set_server(config, server, "kubeconfig " + path.string() + ": " + cl);
  config.ca_pem = kc.file_or_data(cluster, "certificate-authority", "certificate-authority-data", cl);
  if (trim(config.ca_pem).empty())
    kc.fail(cl + ": certificate-authority or certificate-authority-data is missing (the system trust store is not used)");

  if (user_name.empty()) return config;  // no credentials at all: the server decides what anonymous may do
  const auto user = kc.entry("users", "user", user_name);
  const std::string us = "users[" + user_name + "].user";
  for (const char* unsupported : {"exec", "auth-provider"})
    if (user[unsupported]) kc.fail(us + "." + unsupported + " is not supported (use a token, tokenFile or client certificate)");
  if (user["username"] || user["password"]) kc.fail(us + ": basic auth (username/password) is not supported");
  config.token = kc.optional(user, "token", us);
  if (const auto file = kc.optional(user, "tokenFile", us); !file.empty()) {
    if (!config.token.empty()) kc.fail(us + ": both token and tokenFile are set");
    config.token_file = kc.resolve(file);
    std::error_code ec;
    if (!fs::exists(config.token_file, ec)) kc.fail(us + ".tokenFile " + config.token_file.string() + " does not exist");
  }
  config.client_cert_pem = kc.file_or_data(user, "client-certificate", "client-certificate-data", us);
  config.client_key_pem = kc.file_or_data(user, "client-key", "client-key-data", us);
  if (config.client_cert_pem.empty() != config.client_key_pem.empty())
    kc.fail(us + ": a client certificate needs both client-certificate(-data) and client-key(-data)");
  return config;
}

ClusterConfig load_cluster_config(const fs::path& kubeconfig) {
  return kubeconfig.empty() ? load_in_cluster() : load_kubeconfig(kubeconfig);
}

}  // namespace wsteer::k8s
