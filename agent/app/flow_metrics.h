// The spliced-flow table's gauges and counters as Prometheus families (wsteer_spliced_flows,
// wsteer_spliced_bytes_in_flight, wsteer_backpressure_*), read at each scrape.
#pragma once

#include "proxy/spliced_flows.h"

#include <prometheus/metric_family.h>

#include <vector>

namespace wsteer::app {

std::vector<prometheus::MetricFamily> flow_metric_families(const proxy::SplicedFlowStats& stats);

}  // namespace wsteer::app
