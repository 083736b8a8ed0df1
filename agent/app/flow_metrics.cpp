#include "app/flow_metrics.h"

#include "metrics/agent_metrics.h"
#include "metrics/metric_names.h"

namespace wsteer::app {

std::vector<prometheus::MetricFamily> flow_metric_families(const proxy::SplicedFlowStats& s) {
  namespace names = metrics::names;
  struct Family {
    std::string_view name;
    bool counter;
    const char* help;
    double value;
  };
  const Family families[] = {
      {names::spliced_flows, false, "Flows currently spliced in the kernel.", static_cast<double>(s.flows)},
      {names::spliced_bytes_in_flight, false,
       "Bytes redirected between spliced sockets and not yet acknowledged by their receivers: the kernel memory "
       "held in the middle.",
       static_cast<double>(s.bytes_in_middle)},
      {names::backpressure_paused_flows, false,
       "Spliced flow directions whose sender is currently held back by backpressure.",
       static_cast<double>(s.flows_holding)},
      {names::backpressure_relayed_bytes_total, true,
       "Bytes the verdict held back from a sender whose reader was behind, relayed by the agent once the reader "
       "caught up.",
       static_cast<double>(s.relayed_bytes)},
      {names::backpressure_holds_total, true,
       "Times a spliced flow's sender was held back because its reader was behind (more than --splice-buffer-limit "
       "bytes in the middle).",
       static_cast<double>(s.holds)},
  };
  std::vector<prometheus::MetricFamily> out;
  for (const auto& f : families) {
    out.push_back(f.counter ? metrics::counter_family(f.name, f.help) : metrics::gauge_family(f.name, f.help));
    metrics::add_sample(out.back(), f.value);
  }
  return out;
}

}  // namespace wsteer::app
