// The wsteer_k8s_* families: what each Kubernetes Service's EndpointSlice source saw (watch
// events, relists, errors by reason, the time of the last successful sync), labelled `service`.
// Every series a service can have is exported from the first scrape, at zero.
#pragma once

#include "endpoints/endpoint_slice_source.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

namespace wsteer::app {

class KubernetesMetrics {
 public:
  explicit KubernetesMetrics(prometheus::Registry& registry);

  // The observer one Service's source reports to; lives as long as this object.
  std::unique_ptr<endpoints::EndpointSliceObserver> observer_for(const std::string& service);

 private:
  prometheus::Family<prometheus::Counter>& events_;
  prometheus::Family<prometheus::Counter>& relists_;
  prometheus::Family<prometheus::Counter>& errors_;
  prometheus::Family<prometheus::Gauge>& last_sync_;
};

}  // namespace wsteer::app
