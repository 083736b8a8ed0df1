#include "app/service_runtime.h"

#include <spdlog/spdlog.h>

#include <chrono>

namespace wsteer::app {

namespace {

steering::SteeringConfig steering_config_for(const AgentConfig& agent, const ServiceConfig& service) {
  auto config = agent.steering;
  if (!service.hash_key.empty()) config.hash_key = service.hash_key;
  return config;
}

}  // namespace

ServiceRuntime::ServiceRuntime(std::uint32_t index, const ServiceConfig& config, const Shared& shared)
    : index_(index),
      config_(config),
      metrics_(shared.metrics),
      steering_config_(steering_config_for(shared.agent, config)),
      steering_(steering::make_steering(steering_config_, shared.ids)),
      proxy_{shared.agent.proxy, *steering_, shared.metrics, shared.datapath, shared.spliced},
      listener_(shared.control, shared.workers, config.listen, proxy_),
      prober_(shared.control, *steering_),
      kube_(shared.kube),
      kube_watch_timeout_(shared.agent.kube_watch_timeout) {
  proxy_.xdp_conns = shared.xdp_conns;
  if (config_.kubernetes) {
    if (!kube_ || !shared.kube_metrics) throw std::logic_error("service " + config_.name + ": no Kubernetes client");
    kube_observer_ = shared.kube_metrics->observer_for(config_.name);
  }
}

ServiceRuntime::~ServiceRuntime() { stop_source(); }

void ServiceRuntime::apply(const steering::EndpointList& list) {
  const auto rebuild_started = std::chrono::steady_clock::now();
  steering_->update_endpoints(list);  // builds the new Maglev table
  metrics_.maglev_rebuild(std::chrono::duration<double>(std::chrono::steady_clock::now() - rebuild_started).count());
  if (published_) published_();
  loaded_ = true;
  spdlog::info("service {}: {} backends (version {})", config_.name, list.size(), steering_->endpoints_version());
}

void ServiceRuntime::start() {
  if (config_.kubernetes) {
    // The source retries on its own (backoff, relist): until its first list the service is not
    // ready, and an outage later keeps the last good backend set in force.
    endpoints::EndpointSliceSourceOptions options;
    options.ns = config_.kubernetes->ns;
    options.service = config_.kubernetes->name;
    options.port = config_.kubernetes->port;
    options.watch_timeout = kube_watch_timeout_;
    slices_ = std::make_unique<endpoints::EndpointSliceSource>(
        kube_, options, [this](const steering::EndpointList& l) { apply(l); }, kube_observer_.get());
    slices_->start();
  } else {
    file_ = std::make_unique<endpoints::EndpointsFileWatcher>(config_.endpoints_file,
                                                              [this](const steering::EndpointList& l) { apply(l); });
    // A bad first read does not stop the agent: it reports it and stays not-ready until the file
    // is fixed (the watcher keeps watching).
    if (auto started = file_->start(); !started)
      spdlog::error("service {}: endpoints: {} (not ready until the file is fixed)", config_.name,
                    started.error().message());
  }
  prober_.start();
  listener_.start();
  spdlog::info("service {}: listening on {}:{}", config_.name, config_.listen.address().to_string(),
               config_.listen.port());
}

void ServiceRuntime::stop_source() {
  if (file_) file_->stop();
  if (slices_) slices_->stop();
}

}  // namespace wsteer::app
