// Everything one balanced Service owns inside the agent: its steering (backend set + Maglev
// table), its listener and proxy context, its health prober and the source of its endpoint list.
// Services share the agent's workers, datapath, spliced-flow table and metrics registry.
#pragma once

#include "app/agent_config.h"
#include "app/kubernetes_metrics.h"
#include "endpoints/endpoint_slice_source.h"
#include "endpoints/endpoints_file.h"
#include "metrics/agent_metrics.h"
#include "proxy/health_prober.h"
#include "proxy/listener.h"
#include "proxy/proxy_context.h"
#include "steering/backend_id_pool.h"
#include "steering/steering.h"
#include "steering/steering_config.h"

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace wsteer::app {

class ServiceRuntime {
 public:
  struct Shared {
    const AgentConfig& agent;
    std::shared_ptr<steering::BackendIdPool> ids;
    metrics::AgentMetrics& metrics;
    datapath::SpliceDatapath* datapath = nullptr;  // null with the userspace datapath
    proxy::SplicedFlows* spliced = nullptr;
    boost::asio::io_context& control;              // accepts, probes
    std::vector<boost::asio::io_context*> workers;  // sessions
    // Kubernetes Services only: the API client all sources share, and their metrics.
    std::shared_ptr<k8s::ApiClient> kube;
    KubernetesMetrics* kube_metrics = nullptr;
    datapath::XdpConnCounts* xdp_conns = nullptr;  // null without the XDP guard
  };

  // Binds the listener (throws with the address when it cannot); nothing is accepted before start().
  ServiceRuntime(std::uint32_t index, const ServiceConfig& config, const Shared& shared);
  ~ServiceRuntime();  // stops the source
  ServiceRuntime(const ServiceRuntime&) = delete;
  ServiceRuntime& operator=(const ServiceRuntime&) = delete;

  // Every new endpoint list is applied to the steering, then `published()` runs (the wiring
  // mirrors the new state into the pinned maps).
  void set_on_published(std::function<void()> published) { published_ = std::move(published); }
  // Starts the endpoint source and the prober, then accepting. A file service whose first read
  // fails logs it and stays not ready until the file is fixed; a Kubernetes one stays not ready
  // until its first EndpointSlice list succeeds (it keeps retrying).
  void start();
  void stop_accepting() { listener_.stop(); }
  proxy::Listener& listener() { return listener_; }  // hand-off: pause, resume, its socket
  void stop_source();

  std::uint32_t index() const { return index_; }
  const ServiceConfig& config() const { return config_; }
  const steering::SteeringConfig& steering_config() const { return steering_config_; }
  steering::Steering& steering() { return *steering_; }
  const steering::Steering& steering() const { return *steering_; }
  bool loaded() const { return loaded_.load(); }  // the first endpoint list is in
  bool accepting() const { return listener_.listening(); }
  // Sessions still in a coroutine that are not serving plain HTTP: handshaking, or relaying in userspace.
  std::int64_t handshaking() const { return proxy_.sessions.load() - proxy_.http_connections.load(); }
  // Plain-HTTP client connections open now, and the requests they have proxied (docs/http.md).
  std::int64_t http_connections() const { return proxy_.http_connections.load(); }
  std::uint64_t http_requests() const { return proxy_.http_requests.load(); }
  // The file watcher's reload counters (file services only; both 0 otherwise).
  std::uint64_t reloads_ok() const { return file_ ? file_->reloads_ok() : 0; }
  std::uint64_t reload_errors() const { return file_ ? file_->reload_errors() : 0; }
  const char* source_kind() const { return config_.kubernetes ? "kubernetes" : "file"; }

 private:
  void apply(const steering::EndpointList& list);

  const std::uint32_t index_;
  const ServiceConfig& config_;
  metrics::AgentMetrics& metrics_;
  steering::SteeringConfig steering_config_;
  std::unique_ptr<steering::Steering> steering_;
  proxy::ProxyContext proxy_;
  proxy::Listener listener_;
  proxy::HealthProber prober_;
  std::shared_ptr<k8s::ApiClient> kube_;
  std::chrono::seconds kube_watch_timeout_;
  std::unique_ptr<endpoints::EndpointSliceObserver> kube_observer_;
  std::unique_ptr<endpoints::EndpointsFileWatcher> file_;
  std::unique_ptr<endpoints::EndpointSliceSource> slices_;
  std::function<void()> published_;
  std::atomic<bool> loaded_{false};
};

}  // namespace wsteer::app
