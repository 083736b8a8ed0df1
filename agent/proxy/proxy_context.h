// What every client session needs, shared by all worker threads.
#pragma once

#include "datapath/splice_datapath.h"
#include "datapath/xdp_conn_counts.h"
#include "metrics/agent_metrics.h"
#include "proxy/proxy_config.h"
#include "proxy/spliced_flows.h"
#include "steering/steering.h"

#include <atomic>
#include <cstdint>

namespace wsteer::proxy {

struct ProxyContext {
  const ProxyConfig& config;
  steering::Steering& steering;
  metrics::AgentMetrics& metrics;
  datapath::SpliceDatapath* datapath = nullptr;  // null with the userspace datapath
  SplicedFlows* spliced = nullptr;               // null with the userspace datapath
  // Sessions still in a coroutine: handshaking, or relaying in userspace.
  std::atomic<std::int64_t> sessions{0};
  // Open connections per source for the XDP guard's cap; null without --xdp-interfaces.
  datapath::XdpConnCounts* xdp_conns = nullptr;
  // Of those, the ones serving plain HTTP (proxy/http_proxy.cpp), and the requests they proxied.
  std::atomic<std::int64_t> http_connections{0};
  std::atomic<std::uint64_t> http_requests{0};

  std::int64_t open_connections() const {
    return sessions.load() + static_cast<std::int64_t>(spliced ? spliced->size() : 0);
  }
};

}  // namespace wsteer::proxy
