// Pull-style metrics read at scrape time: the verdict's per-CPU counters (summed) and the
// steering layer's per-backend state. Label cardinality: backends only, never clients.
#pragma once

#include "datapath/splice_datapath.h"
#include "steering/steering.h"

#include <prometheus/collectable.h>

#include <string>
#include <vector>

namespace wsteer::metrics {

// One Service's steering, and the `service` label its per-backend series carry.
struct ServiceSteering {
  std::string name;
  const steering::Steering* steering = nullptr;
};

class DatapathCollector : public prometheus::Collectable {
 public:
  // `datapath` may be null (userspace datapath): spliced counters then read 0.
  DatapathCollector(const datapath::SpliceDatapath* datapath, std::vector<ServiceSteering> services)
      : datapath_(datapath), services_(std::move(services)) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const datapath::SpliceDatapath* datapath_;
  std::vector<ServiceSteering> services_;
};

}  // namespace wsteer::metrics
