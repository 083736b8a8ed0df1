// wsteerctl status: is the agent up, is the verdict attached, how full are the maps, totals.
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/json_fields.h"
#include "datapath/map_names.h"

namespace wsteer::cli {
namespace json = boost::json;

json::object status_model(const PinnedMaps& maps, const AgentProbe& probe, const ControlClient& client) {
  json::object agent = agent_json(probe, client);
  if (probe.status)
    for (const auto& kv : *probe.status)
      if (kv.key() != "ok") agent[kv.key()] = kv.value();

  json::array programs;
  for (const auto& p : maps.verdict_programs())
    programs.push_back(json::object{{"id", p.id}, {"name", p.name}, {"attached_to", p.attached_to}, {"attach_type", p.attach_type}});

  json::array fills;
  std::uint64_t flow_entries = 0;
  for (const auto& f : maps.fill()) {
    fills.push_back(json::object{{"name", f.name}, {"type", f.type}, {"used", f.used}, {"max", f.max}});
    if (f.name == datapath::map_names::flows) flow_entries = f.used;
  }

  const auto backends = maps.backends();
  std::uint64_t active = 0, draining = 0, unhealthy = 0, connections = 0, total = 0;
  for (const auto& b : backends) {
    active += b.info.state == WSTEER_BACKEND_ACTIVE;
    draining += b.info.state == WSTEER_BACKEND_DRAINING;
    unhealthy += b.info.state == WSTEER_BACKEND_UNHEALTHY;
    connections += b.info.active_connections;
    total += b.info.total_connections;
  }
  const auto stats = maps.stats();
  json::object totals{
      {"backends", backends.size()},
      {"backends_active", active},
      {"backends_draining", draining},
      {"backends_unhealthy", unhealthy},
      {"spliced_flows", flow_entries / 2},
      {"active_connections", connections},
      {"total_connections", total},
      {"bytes_client_to_backend", stats.bytes[WSTEER_DIR_CLIENT_TO_BACKEND]},
      {"bytes_backend_to_client", stats.bytes[WSTEER_DIR_BACKEND_TO_CLIENT]},
      {"redirect_failures", stats.redirect_failures},
  };
  return {{"bpffs", maps.folder().string()},
          {"agent", std::move(agent)},
          {"programs", std::move(programs)},
          {"maps", std::move(fills)},
          {"totals", std::move(totals)}};
}

void status_table(const json::object& model, std::ostream& out) {
  const auto& agent = obj(model, "agent");
  const auto& totals = obj(model, "totals");
  std::string agent_line;
  if (flag(agent, "up")) {
    agent_line = "up, pid " + std::to_string(u64(agent, "pid")) + ", " + str(agent, "datapath") + " datapath, " +
                 human_duration(u64(agent, "uptime_seconds")) + (flag(agent, "accepting") ? "" : ", not accepting");
  } else {
    agent_line = "DOWN (" + str(agent, "reason") + ")";
  }
  std::string programs;
  for (const auto& v : arr(model, "programs")) {
    const auto& p = v.as_object();
    programs += (programs.empty() ? "" : "; ") + str(p, "name") + " (id " + std::to_string(u64(p, "id")) + ") on " +
                str(p, "attached_to");
  }
  std::vector<std::pair<std::string, std::string>> fields{
      {"agent", agent_line},
      {"bpffs", str(model, "bpffs")},
      {"control socket", str(agent, "control_socket")},
      // "verdict": the attach type is the label, so that a 10-digit program id (a long-lived
      // node's) still fits in 80 columns.
      {"verdict", programs.empty() ? "NONE attached (flows are not spliced)" : programs},
  };
  if (flag(agent, "up")) {
    fields.emplace_back("listen", str(agent, "listen"));
    fields.emplace_back("endpoints version", std::to_string(u64(agent, "endpoints_version")) + " (" +
                                                 std::to_string(u64(agent, "endpoints_reloads_ok")) + " reloads, " +
                                                 std::to_string(u64(agent, "endpoints_reload_errors")) + " bad)");
    fields.emplace_back("connections", std::to_string(u64(agent, "open_connections")) + " open, " +
                                           std::to_string(u64(agent, "handshaking")) + " handshaking");
    // Plain HTTP is proxied in userspace, apart from the spliced flows (docs/http.md).
    fields.emplace_back("http", std::to_string(u64(agent, "http_connections")) + " connections open, " +
                                    std::to_string(u64(agent, "http_requests")) + " requests");
  } else {
    fields.emplace_back("endpoints version", "unknown (agent down)");
  }
  fields.emplace_back("backends", std::to_string(u64(totals, "backends")) + " (" + std::to_string(u64(totals, "backends_active")) +
                                      " active, " + std::to_string(u64(totals, "backends_draining")) + " draining, " +
                                      std::to_string(u64(totals, "backends_unhealthy")) + " unhealthy)");
  fields.emplace_back("spliced flows", std::to_string(u64(totals, "spliced_flows")));
  fields.emplace_back("backend conns", std::to_string(u64(totals, "active_connections")) + " active, " +
                                           std::to_string(u64(totals, "total_connections")) + " total");
  fields.emplace_back("spliced bytes", human_bytes(u64(totals, "bytes_client_to_backend")) + " client>backend, " +
                                           human_bytes(u64(totals, "bytes_backend_to_client")) + " backend>client");
  fields.emplace_back("redirect fails", std::to_string(u64(totals, "redirect_failures")));
  print_fields(out, fields);

  Table maps({{"MAP"}, {"TYPE"}, {"USED", true}, {"MAX", true}, {"FILL", true}});
  for (const auto& v : arr(model, "maps")) {
    const auto& m = v.as_object();
    const auto max = u64(m, "max");
    maps.add({str(m, "name"), str(m, "type"), std::to_string(u64(m, "used")), std::to_string(max),
              max ? percent(static_cast<double>(u64(m, "used")) / static_cast<double>(max)) : "-"});
  }
  out << "\n";
  maps.print(out);
}

}  // namespace wsteer::cli
