// wsteerctl backends and wsteerctl maglev: both read wsteer_backends and wsteer_maglev.
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/json_fields.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <set>
#include <string>

namespace wsteer::cli {
namespace json = boost::json;

namespace {

const char* state_name(std::uint8_t state) {
  switch (state) {
    case WSTEER_BACKEND_ACTIVE: return "active";
    case WSTEER_BACKEND_DRAINING: return "draining";
    case WSTEER_BACKEND_UNHEALTHY: return "unhealthy";
    default: return "unused";
  }
}

std::array<std::uint8_t, 16> addr_of(const wsteer_backend_info& info) {
  std::array<std::uint8_t, 16> a{};
  std::memcpy(a.data(), info.addr, a.size());
  return a;
}

// Slots of the table a backend's share is counted against: its Service's, or the whole table.
double table_size_of(const BackendEntry& b, const std::vector<std::uint32_t>& maglev, const ServiceInfos& services) {
  if (const auto it = services.find(b.info.service); it != services.end() && it->second.maglev_size > 0)
    return it->second.maglev_size;
  return static_cast<double>(std::max<std::size_t>(maglev.size(), 1));
}

std::string service_of(const BackendEntry& b, const ServiceInfos& services) {
  const auto it = services.find(b.info.service);
  return it == services.end() ? std::string() : std::string(it->second.name);
}

}  // namespace

std::vector<std::uint64_t> slots_per_backend(const std::vector<std::uint32_t>& table) {
  std::vector<std::uint64_t> slots(WSTEER_MAX_BACKENDS);
  for (auto id : table)
    if (id < WSTEER_MAX_BACKENDS) ++slots[id];
  return slots;
}

json::object backends_model(const std::vector<BackendEntry>& backends, const std::vector<std::uint32_t>& maglev,
                            const ServiceInfos& services) {
  const auto slots = slots_per_backend(maglev);
  json::array rows;
  for (const auto& b : backends) {
    const auto addr = addr_of(b.info);
    const double size = table_size_of(b, maglev, services);
    rows.push_back(json::object{
        {"id", b.id},
        {"service", service_of(b, services)},
        {"name", b.info.name},
        {"address", address_text(addr)},
        {"port", b.info.port},
        {"state", state_name(b.info.state)},
        {"weight", b.info.weight},
        {"max_connections", b.info.max_connections},
        {"maglev_slots", slots[b.id]},
        {"maglev_share", static_cast<double>(slots[b.id]) / size},
        {"active_connections", b.info.active_connections},
        {"total_connections", b.info.total_connections},
        {"connect_failures", b.info.connect_failures},
        {"bytes_client_to_backend", b.counters.bytes[WSTEER_DIR_CLIENT_TO_BACKEND]},
        {"bytes_backend_to_client", b.counters.bytes[WSTEER_DIR_BACKEND_TO_CLIENT]},
    });
  }
  return {{"backends", std::move(rows)}};
}

void backends_table(const json::object& model, std::ostream& out) {
  // A SERVICE column only when the agent balances more than one.
  std::set<std::string> services;
  for (const auto& v : arr(model, "backends")) services.insert(str(v.as_object(), "service"));
  const bool several = services.size() > 1;
  if (several) {
    Table table({{"SERVICE"}, {"NAME"}, {"ADDRESS"}, {"STATE"}, {"SHARE", true}, {"ACTIVE", true}, {"TOTAL", true},
                 {"C>B", true}, {"B>C", true}});
    for (const auto& v : arr(model, "backends")) {
      const auto& b = v.as_object();
      const auto host = str(b, "address");
      const auto addr = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(u64(b, "port"));
      table.add({str(b, "service"), str(b, "name"), addr, str(b, "state"), percent(num(b, "maglev_share")),
                 std::to_string(u64(b, "active_connections")), std::to_string(u64(b, "total_connections")),
                 human_bytes(u64(b, "bytes_client_to_backend")), human_bytes(u64(b, "bytes_backend_to_client"))});
    }
    table.print(out);
    out << "SHARE: of its Service's Maglev table; C>B: bytes spliced client to backend, B>C: backend to client\n";
    print_agent_down_note(model, out);
    return;
  }
  Table table({{"NAME"}, {"ADDRESS"}, {"STATE"}, {"WT", true}, {"SHARE", true}, {"ACTIVE", true},
               {"TOTAL", true}, {"C>B", true}, {"B>C", true}});
  for (const auto& v : arr(model, "backends")) {
    const auto& b = v.as_object();
    const auto host = str(b, "address");
    const auto addr = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(u64(b, "port"));
    table.add({str(b, "name"), addr, str(b, "state"), std::to_string(u64(b, "weight")), percent(num(b, "maglev_share")),
               std::to_string(u64(b, "active_connections")), std::to_string(u64(b, "total_connections")),
               human_bytes(u64(b, "bytes_client_to_backend")), human_bytes(u64(b, "bytes_backend_to_client"))});
  }
  if (table.rows() == 0) {
    out << "no backends published\n";
  } else {
    table.print(out);
    out << "C>B: bytes spliced client to backend, B>C: backend to client\n";
  }
  print_agent_down_note(model, out);
}

json::object maglev_model(const std::vector<BackendEntry>& backends, const std::vector<std::uint32_t>& maglev,
                          const ServiceInfos& services) {
  const auto slots = slots_per_backend(maglev);
  std::map<std::uint32_t, std::uint64_t> weight_in_table;  // per Service
  std::uint64_t assigned = 0;
  for (const auto& b : backends)
    if (slots[b.id]) {
      weight_in_table[b.info.service] += b.info.weight;
      assigned += slots[b.id];
    }
  json::array rows;
  double worst = 0;  // largest share / ideal share: how far Maglev's rounding strays
  for (const auto& b : backends) {
    const double share = static_cast<double>(slots[b.id]) / table_size_of(b, maglev, services);
    const auto weights = weight_in_table[b.info.service];
    const double ideal = slots[b.id] && weights ? static_cast<double>(b.info.weight) / static_cast<double>(weights) : 0;
    if (ideal > 0) worst = std::max(worst, share / ideal);
    rows.push_back(json::object{{"id", b.id},
                                {"service", service_of(b, services)},
                                {"name", b.info.name},
                                {"state", state_name(b.info.state)},
                                {"weight", b.info.weight},
                                {"slots", slots[b.id]},
                                {"share", share},
                                {"ideal_share", ideal}});
  }
  return {{"table_size", maglev.size()},
          {"assigned_slots", assigned},
          {"unassigned_slots", maglev.size() - std::min<std::uint64_t>(assigned, maglev.size())},
          {"max_share_over_ideal", worst},
          {"backends", std::move(rows)}};
}

void maglev_table(const json::object& model, std::ostream& out) {
  print_fields(out, {{"table size", std::to_string(u64(model, "table_size")) + " slots"},
                     {"assigned", std::to_string(u64(model, "assigned_slots")) + " slots (" +
                                      std::to_string(u64(model, "unassigned_slots")) + " pointing at no published backend)"}});
  double max_share = 0;
  for (const auto& v : arr(model, "backends")) max_share = std::max(max_share, num(v.as_object(), "share"));
  Table table({{"NAME"}, {"STATE"}, {"WT", true}, {"SLOTS", true}, {"SHARE", true}, {"IDEAL", true}, {"HISTOGRAM"}});
  for (const auto& v : arr(model, "backends")) {
    const auto& b = v.as_object();
    table.add({str(b, "name"), str(b, "state"), std::to_string(u64(b, "weight")), std::to_string(u64(b, "slots")),
               percent(num(b, "share")), percent(num(b, "ideal_share")), bar(num(b, "share"), max_share, 24)});
  }
  out << "\n";
  table.print(out);
  if (num(model, "max_share_over_ideal") > 0) {
    char text[64];
    std::snprintf(text, sizeof(text), "largest share / ideal: %.4f\n", num(model, "max_share_over_ideal"));
    out << text;
  }
  print_agent_down_note(model, out);
}

}  // namespace wsteer::cli
