// Mirrors the steering state of every Service into the pinned maps so wsteerctl can read it with
// the agent down: wsteer_services once, wsteer_backends on every call (backend states change
// without an endpoints update: drain, circuit breaker), and a Service's slice of wsteer_maglev
// only when its endpoint set changed.
#pragma once

#include "app/service_runtime.h"
#include "datapath/splice_datapath.h"

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace wsteer::app {

class MapPublisher {
 public:
  MapPublisher(datapath::SpliceDatapath& datapath, const std::vector<std::unique_ptr<ServiceRuntime>>& services);
  // Thread-safe: endpoint sources, the control socket and the agent's timer all call it.
  void publish();

 private:
  datapath::SpliceDatapath& datapath_;
  const std::vector<std::unique_ptr<ServiceRuntime>>& services_;
  std::mutex mutex_;
  std::vector<std::uint32_t> used_;             // backend ids published last time
  std::vector<std::uint64_t> maglev_versions_;  // per service: endpoints version of its published table
};

}  // namespace wsteer::app
