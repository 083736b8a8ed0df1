// Where the Kubernetes API server is and how to prove who we are: in-cluster (the pod's service
// account) or a kubeconfig file for out-of-cluster use.
#pragma once

#include <filesystem>
#include <string>

namespace wsteer::k8s {

struct ClusterConfig {
  std::string server;  // "https://HOST:PORT" (IPv6 hosts in brackets)
  std::string host;    // HOST without brackets, for connect and SNI
  std::string port;    // "443" when the URL names none
  std::string ca_pem;  // the CA bundle the server's certificate must chain to (never empty)
  // Exactly one way to authenticate, or none (client certificate only):
  std::string token;                 // a static bearer token (kubeconfig `token`)
  std::filesystem::path token_file;  // or one re-read when it changes (in-cluster, kubeconfig `tokenFile`)
  std::string client_cert_pem, client_key_pem;  // kubeconfig client-certificate(-data)/client-key(-data)
  std::string ns;      // the pod's namespace (in-cluster) or the context's namespace; may be empty
  std::string origin;  // "in-cluster" or the kubeconfig path, for log lines
};

// The pod's service account: KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT from the
// environment, token, ca.crt and namespace under `sa_dir`. Throws std::runtime_error saying
// what is missing (not in a pod, no token, unreadable CA).
ClusterConfig load_in_cluster(
    const std::filesystem::path& sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

// A kubeconfig (yaml-cpp): `context` or, when empty, current-context; its cluster's server and
// certificate-authority(-data), its user's token / tokenFile / client-certificate(-data) +
// client-key(-data). Relative file paths are resolved against the kubeconfig's folder.
// Throws std::runtime_error naming the file and the missing or unsupported field (exec and
// auth-provider plugins are refused; insecure-skip-tls-verify is refused).
ClusterConfig load_kubeconfig(const std::filesystem::path& path, const std::string& context = "");

// --kubeconfig when given, else in-cluster.
ClusterConfig load_cluster_config(const std::filesystem::path& kubeconfig);

}  // namespace wsteer::k8s
