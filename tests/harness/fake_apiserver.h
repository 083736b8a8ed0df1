// An in-process Kubernetes API server for tests (no kube-apiserver on CI machines): HTTPS with a
// CA generated at startup, bearer tokens, optional RBAC rules, and list / watch / get / create /
// update / merge-patch / delete (+ the scale subresource of deployments and statefulsets) for the
// handful of resources wsteer touches. It reproduces what a client can observe of kube-apiserver
// 1.26+ where wsteer relies on it: Status bodies and codes, resourceVersions from one global
// counter, watch replay from a resourceVersion, 410 Expired after compaction, bookmarks,
// timeoutSeconds, label-filtered watches turning MODIFIED into ADDED/DELETED, limit/continue
// pagination, no-op updates that do not bump the resourceVersion, and list items without
// apiVersion/kind (as the real server sends them). Faults (dropped streams, 503, a stopped
// listener) can be injected. Serves on its own thread; every public method is thread-safe.
#pragma once

#include <boost/json/object.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace wsteer::test {

struct FakeApiServerOptions {
  std::string address = "127.0.0.1";  // IP literal (v4 or v6)
  unsigned short port = 0;            // 0: ephemeral
  // Non-empty: the listening socket is created inside this network namespace (/run/netns/NAME).
  std::string netns;
  std::vector<std::string> tokens = {"test-token"};  // accepted bearer tokens
  // 0: no bookmarks; else a BOOKMARK this often on watches that asked allowWatchBookmarks=true.
  std::chrono::milliseconds bookmark_interval{0};
  // The real server omits apiVersion/kind on list items (kubernetes/kubernetes#3030); true adds them.
  bool list_items_type_meta = false;
};

class FakeApiServer {
 public:
  explicit FakeApiServer(FakeApiServerOptions options = {});  // starts serving on its own thread
  ~FakeApiServer();                                            // stops, joins, closes every connection
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  unsigned short port() const;
  std::string url() const;                       // "https://127.0.0.1:PORT" (brackets for v6)
  const std::filesystem::path& ca_file() const;  // PEM of the CA that signed the serving cert
  std::string ca_pem() const;

  // Auth: accepted tokens (rotation = set a new list; old tokens then get 401).
  void set_tokens(std::vector<std::string> tokens);
  // The user name a token authenticates as (in 403 messages); default
  // "system:serviceaccount:default:" + token.
  void set_user(const std::string& token, const std::string& user);
  // RBAC: once any rule is set, a token may only do what its rules allow, else 403 with the real
  // message. verb: get|list|watch|create|update|patch|delete|"*"; group: "" core,
  // "discovery.k8s.io", ... or "*"; resource: "endpointslices", "deployments/scale", ... or "*";
  // ns "": all namespaces (and cluster-wide requests), else that namespace only.
  // resource_names: as RBAC's resourceNames (empty: any object; else only requests naming one).
  void allow(const std::string& token, const std::string& verb, const std::string& group,
             const std::string& resource, const std::string& ns = "", std::vector<std::string> resource_names = {});
  void clear_rules();

  // Store operations, as a controller would do them. Each write bumps the global resourceVersion,
  // stamps metadata.resourceVersion/uid/creationTimestamp/generation and emits
  // ADDED/MODIFIED/DELETED to watches, except an update that changes nothing (no-op, as in the
  // real server). group_version as in apiVersion: "discovery.k8s.io/v1", "v1", "apps/v1".
  // Unknown resources throw std::invalid_argument; metadata.namespace and .name are required.
  std::string apply(const std::string& group_version, const std::string& resource, boost::json::object obj);  // returns the object's RV
  void remove(const std::string& group_version, const std::string& resource, const std::string& ns,
              const std::string& name);  // throws std::out_of_range when absent
  std::optional<boost::json::object> get(const std::string& group_version, const std::string& resource,
                                         const std::string& ns, const std::string& name) const;
  std::string put_endpoint_slice(boost::json::object slice);  // discovery.k8s.io/v1 endpointslices
  void delete_endpoint_slice(const std::string& ns, const std::string& name);
  std::string resource_version() const;  // the current global revision

  // Faults:
  // Forget history up to now: a watch from an older RV gets an ERROR 410 event, an exact list
  // (resourceVersionMatch=Exact, or limit with a resourceVersion, as the real server reads those
  // from etcd) or a continue token from before gets HTTP 410.
  void compact();
  // Abruptly close every open watch stream (TCP close, no TLS close_notify, no last chunk);
  // mid_event: first send half an event line as a chunk.
  void drop_connections(bool mid_event = true);
  // While down every request gets 503 ServiceUnavailable (connections and open watches stay).
  void set_unavailable(bool down);
  // stop(): listener closed (connects refused) and every connection closed; restart(): listening
  // again on the same port. The store survives.
  void stop();
  void restart();

  // Observations for tests:
  std::size_t list_requests() const;   // GET collection without watch
  std::size_t watch_requests() const;  // GET collection with watch
  std::size_t open_watches() const;    // streams being served right now
  std::vector<std::string> seen_tokens() const;  // Authorization bearer values seen, in order
  std::vector<std::string> requests() const;     // "METHOD target" of every request, in order

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace wsteer::test
