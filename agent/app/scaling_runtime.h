// The connection-based scaler inside the agent (docs/scaling.md): it discovers the other agents
// through the EndpointSlices of --peers-service and runs one ServiceScaler per Service with a
// `scaling:` block, all on one thread of their own so that API calls and report fetches never
// wait behind the proxy or the scrapes. Exists only when some Service scales.
#pragma once

#include "app/agent_config.h"
#include "endpoints/endpoint_slice_source.h"
#include "scaler/service_scaler.h"

#include <boost/asio/io_context.hpp>
#include <prometheus/metric_family.h>

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace wsteer::app {

class ScalingRuntime {
 public:
  // Nothing runs before start(). `client` is the agent's API client.
  ScalingRuntime(const AgentConfig& config, std::shared_ptr<k8s::ApiClient> client);
  ~ScalingRuntime();  // stop()
  ScalingRuntime(const ScalingRuntime&) = delete;
  ScalingRuntime& operator=(const ScalingRuntime&) = delete;

  static bool wanted(const AgentConfig& config);  // some Service has scaling on

  void start();
  // Stops discovery and the scalers; a leader releases its Lease first (bounded by the request
  // timeout), so another agent takes over at once. Idempotent.
  void stop();

  // GET /v1/scaling?service=NS/NAME[&local=1] (KEDA's metrics-api): status code and JSON body.
  std::pair<int, std::string> scaling_answer(const std::string& service, bool local_only) const;
  // The wsteer_scaler_* families (metrics/metric_names.h), every label set from the first scrape.
  std::vector<prometheus::MetricFamily> metric_families() const;

 private:
  boost::asio::io_context io_{1};
  std::shared_ptr<scaler::PeerDirectory> peers_;
  std::unique_ptr<endpoints::EndpointSliceSource> discovery_;
  std::vector<std::unique_ptr<scaler::ServiceScaler>> scalers_;
  std::size_t running_ = 0;  // scalers whose run() has not returned (scaler thread only)
  std::thread thread_;
  bool started_ = false, stopped_ = false;
};

}  // namespace wsteer::app
