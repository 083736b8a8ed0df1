// The agent's XDP front door: the guard program on --xdp-interfaces, the per-source connection
// counts its cap reads, and wsteer_xdp_packets_total. Exists only while xdp-interfaces is set.
#pragma once

#include "app/agent_config.h"
#include "datapath/splice_datapath.h"
#include "datapath/xdp_conn_counts.h"
#include "datapath/xdp_guard.h"
#include "metrics/agent_metrics.h"

#include <prometheus/metric_family.h>

#include <memory>
#include <vector>

namespace wsteer::app {

class XdpFrontDoor {
 public:
  // Loads and attaches (throws with the interface or map on failure). With the splice datapath,
  // flows it removes are counted out of their source (`splice` may be null: userspace datapath).
  XdpFrontDoor(const AgentConfig& config, metrics::AgentMetrics& metrics, datapath::SpliceDatapath* splice);
  datapath::XdpConnCounts* conns() { return conns_.get(); }
  const datapath::XdpGuard& guard() const { return *guard_; }

 private:
  std::unique_ptr<datapath::XdpGuard> guard_;
  std::unique_ptr<datapath::XdpConnCounts> conns_;
};

// wsteer_xdp_packets_total{action,reason}: every label pair, 0 until the first frame.
std::vector<prometheus::MetricFamily> xdp_families(const datapath::XdpCounters& counters);

}  // namespace wsteer::app
