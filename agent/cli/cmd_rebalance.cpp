// wsteerctl rebalance --dry-run: what the agent's rebalance would close now (through the control
// socket: the policy runs on the agent's own counts and flow ages).
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/json_fields.h"
#include "cli/output.h"

#include <cstdio>

namespace wsteer::cli {

void rebalance_table(const boost::json::object& model, std::ostream& out) {
  if (!flag(model, "enabled")) {
    out << str(model, "note") << "\n";
    return;
  }
  char head[160];
  std::snprintf(head, sizeof head, "rebalance above %.2f x mean, %llu closes/s (%llu allowed now), min age %.0fs, %llu closing\n",
                num(model, "rebalance_above"), static_cast<unsigned long long>(u64(model, "rebalance_rate")),
                static_cast<unsigned long long>(u64(model, "budget_now")), num(model, "rebalance_min_age_seconds"),
                static_cast<unsigned long long>(u64(model, "closing")));
  out << head;
  Table backends({{"SERVICE"}, {"BACKEND"}, {"ACTIVE", true}, {"CLOSING", true}, {"THRESHOLD", true}, {"EXCESS", true},
                  {"WOULD CLOSE", true}, {"WHY"}});
  for (const auto& v : arr(model, "backends")) {
    const auto& b = v.as_object();
    char threshold[32];
    std::snprintf(threshold, sizeof threshold, "%.1f", num(b, "threshold"));
    backends.add({str(b, "service"), str(b, "backend"), std::to_string(u64(b, "connections")),
                  std::to_string(u64(b, "closing")), threshold, std::to_string(u64(b, "excess")),
                  std::to_string(u64(b, "would_close")), str(b, "reason")});
  }
  backends.print(out);
  const auto& flows = arr(model, "would_close");
  if (flows.empty()) {
    out << "would close no flow now\n";
    return;
  }
  out << "\nwould close, in this order:\n";
  Table table({{"SERVICE"}, {"BACKEND"}, {"FLOW", true}, {"AGE", true}});
  for (const auto& v : flows) {
    const auto& f = v.as_object();
    table.add({str(f, "service"), str(f, "backend"), std::to_string(u64(f, "flow")),
               human_duration(static_cast<std::uint64_t>(num(f, "age_seconds")))});
  }
  table.print(out);
}

}  // namespace wsteer::cli
