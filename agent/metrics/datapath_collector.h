// Pull-style metrics read at scrape time: the verdict's per-CPU counters (summed) and the
// steering layer's per-backend state. Label cardinality: backends only, never clients.
#pragma once

#include "datapath/splice_datapath.h"
#include "steering/steering.h"

#include <prometheus/collectable.h>

namespace wsteer::metrics {

class DatapathCollector : public prometheus::Collectable {
 public:
  // `datapath` may be null (userspace datapath): spliced counters then read 0.
  DatapathCollector(const datapath::SpliceDatapath* datapath, const steering::Steering& steering)
      : datapath_(datapath), steering_(steering) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const datapath::SpliceDatapath* datapath_;
  const steering::Steering& steering_;
};

}  // namespace wsteer::metrics
