// The API server a Kubernetes end-to-end test talks to, behind one interface so the same
// scenarios run against the project's test API server (always) and a real kube-apiserver + etcd
// (when WSTEER_KUBE_APISERVER names one). Both listen on the loopback of the given network
// namespace, where the agent runs.
#pragma once

#include "harness/fake_apiserver.h"

#include <boost/json/object.hpp>

#include <filesystem>
#include <memory>
#include <string>

namespace wsteer::test {

class TestCluster {
 public:
  virtual ~TestCluster() = default;
  virtual std::string kind() const = 0;  // for messages
  virtual std::string url() const = 0;
  virtual std::filesystem::path ca_file() const = 0;
  // A token allowed exactly what the Helm chart's ClusterRole allows (get/list/watch endpointslices).
  virtual std::string agent_token() const = 0;
  virtual void put_endpoint_slice(const boost::json::object& slice) = 0;  // create or replace
  virtual void delete_endpoint_slice(const std::string& ns, const std::string& name) = 0;
  virtual void stop() = 0;     // connections refused, the data kept
  virtual void restart() = 0;  // serving again at the same URL
  // `kubectl apply --dry-run=server -f FILE` as the cluster admin (a real server only: it runs
  // admission and the real schemas); throws std::runtime_error with kubectl's message.
  virtual void apply_server_dry_run(const std::filesystem::path& manifests) = 0;
  // The test API server, for the faults only it can inject (compaction, dropped streams,
  // 503s, token rotation); null for a real one.
  virtual FakeApiServer* fake() { return nullptr; }
};

// The test API server inside `netns`, with RBAC rules granting agent_token() what the chart's
// ClusterRole grants (read from helm/wsteer/templates/clusterrole.yaml's rules).
std::unique_ptr<TestCluster> make_fake_cluster(const std::string& netns);

// etcd + the kube-apiserver named by WSTEER_KUBE_APISERVER inside `netns`, state under `dir`:
// a namespace for the test's Services, a ServiceAccount bound to the ClusterRole rendered from
// the chart, and a token for it (TokenRequest). Throws std::runtime_error when it cannot start.
std::unique_ptr<TestCluster> make_real_cluster(const std::string& netns, const std::filesystem::path& dir,
                                               const std::string& service_namespace);

// A kubeconfig in `dir` for the agent: the cluster's URL and CA, and the bearer token read from
// `token_file` (so a test can rotate it). Returns its path.
std::filesystem::path write_kubeconfig(const std::filesystem::path& dir, const TestCluster& cluster,
                                       const std::filesystem::path& token_file);

// Grants `token` what the chart's namespaced Roles allow when rendered with `values_yaml` (the
// scaler's Lease and scale rights), in the Roles' namespaces, resourceNames included. Throws
// std::runtime_error when the chart renders no Role.
void grant_chart_roles(FakeApiServer& server, const std::string& token, const std::string& values_yaml,
                       const std::filesystem::path& scratch);

}  // namespace wsteer::test
