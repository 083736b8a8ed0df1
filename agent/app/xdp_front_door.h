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
  // `adopt` (hand-off, docs/handoff.md): take over the predecessor's guard (datapath::XdpGuard).
  XdpFrontDoor(const AgentConfig& config, metrics::AgentMetrics& metrics, datapath::SpliceDatapath* splice,
               bool adopt = false);
  datapath::XdpConnCounts* conns() { return conns_.get(); }
  datapath::XdpGuard& guard() { return *guard_; }
  // Hand-off done, new agent: the pins and links are ours, the connection counts exact.
  void confirm_adoption();
  // Hand-off, old agent (HandoffSender): the successor may take the guard's lock; at the end the
  // counts and then the pins and links are its; or, when it fails, all of it is ours again.
  void release_lock() { guard_->release_lock(); }
  void stop_counting() { conns_->stop_writing(); }
  void hand_over() { guard_->hand_over(); }
  void reclaim();

 private:
  std::unique_ptr<datapath::XdpGuard> guard_;
  std::unique_ptr<datapath::XdpConnCounts> conns_;
};

// wsteer_xdp_packets_total{action,reason}: every label pair, 0 until the first frame.
std::vector<prometheus::MetricFamily> xdp_families(const datapath::XdpCounters& counters);

}  // namespace wsteer::app
