#include "app/flow_metrics.h"

#include "metrics/agent_metrics.h"
#include "metrics/metric_names.h"

namespace wsteer::app {

std::vector<prometheus::MetricFamily> flow_metric_families(const proxy::SplicedFlowStats& s) {
  namespace names = metrics::names;
  auto flows = metrics::gauge_family(names::spliced_flows, "Flows currently spliced in the kernel.");
  metrics::add_sample(flows, static_cast<double>(s.flows));
  auto middle = metrics::gauge_family(names::spliced_bytes_in_flight,
                                      "Bytes redirected between spliced sockets and not yet acknowledged by their "
                                      "receivers: the kernel memory held in the middle.");
  metrics::add_sample(middle, static_cast<double>(s.bytes_in_middle));
  auto held = metrics::gauge_family(names::backpressure_paused_flows,
                                    "Spliced flow directions whose sender is currently held back by backpressure.");
  metrics::add_sample(held, static_cast<double>(s.flows_holding));
  auto relayed = metrics::counter_family(names::backpressure_relayed_bytes_total,
                                         "Bytes the verdict held back from a sender whose reader was behind, "
                                         "relayed by the agent once the reader caught up.");
  metrics::add_sample(relayed, static_cast<double>(s.relayed_bytes));
  auto holds = metrics::counter_family(names::backpressure_holds_total,
                                       "Times a spliced flow's sender was held back because its reader was behind "
                                       "(more than --splice-buffer-limit bytes in the middle).");
  metrics::add_sample(holds, static_cast<double>(s.holds));
  return {flows, middle, held, relayed, holds};
}

}  // namespace wsteer::app
