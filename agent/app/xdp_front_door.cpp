#include "app/xdp_front_door.h"

#include "metrics/function_collector.h"
#include "metrics/metric_names.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace wsteer::app {

std::vector<prometheus::MetricFamily> xdp_families(const datapath::XdpCounters& counters) {
  auto packets = metrics::counter_family(metrics::names::xdp_packets_total,
                                         "Frames the XDP guard judged on --xdp-interfaces, by action (pass, drop) "
                                         "and reason.");
  for (std::uint32_t r = 0; r < WSTEER_XDP_REASON_COUNT; ++r) {
    const auto label = datapath::xdp_reason_label(r);
    metrics::add_sample(packets, static_cast<double>(counters[r]), {{"action", label.action}, {"reason", label.reason}});
  }
  return {packets};
}

XdpFrontDoor::XdpFrontDoor(const AgentConfig& config, metrics::AgentMetrics& metrics, datapath::SpliceDatapath* splice,
                           bool adopt) {
  std::vector<std::uint16_t> ports;
  for (const auto& s : config.services)
    if (std::find(ports.begin(), ports.end(), s.listen.port()) == ports.end()) ports.push_back(s.listen.port());
  guard_ = std::make_unique<datapath::XdpGuard>(config.bpffs, config.xdp, ports, adopt);
  conns_ = std::make_unique<datapath::XdpConnCounts>(guard_->conns_fd());
  if (splice) splice->set_on_remove([counts = conns_.get()](const datapath::FlowSockets& flow) {
    counts->closed(flow.client_cookie);
  });
  metrics.add_collectable(std::make_shared<metrics::FunctionCollector>(
      [guard = guard_.get()] { return xdp_families(guard->counters()); }));
  spdlog::info("XDP guard on {} interface(s): SYN rate {}/s burst {} per source, {} connections per source, "
               "{} deny and {} allow CIDRs; pins in {}",
               guard_->attachments().size(), config.xdp.syn_rate, config.xdp.syn_burst,
               config.xdp.max_conns_per_source ? std::to_string(config.xdp.max_conns_per_source) : "unlimited",
               config.xdp.deny.size(), config.xdp.allow.size(), guard_->pin_dir().string());
}

void XdpFrontDoor::confirm_adoption() {
  guard_->confirm_adoption();
  conns_->resync();
}

void XdpFrontDoor::reclaim() {
  guard_->reclaim();
  conns_->resync();
}

}  // namespace wsteer::app
