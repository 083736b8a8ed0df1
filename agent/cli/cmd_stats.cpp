// wsteerctl stats: the verdict's per-CPU counters (summed) from the maps, and the agent's own
// userspace counters through the control socket when it runs.
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/json_fields.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace wsteer::cli {
namespace json = boost::json;

json::object stats_model(const wsteer_stats& s, const std::vector<BackendEntry>& backends,
                         const json::object* userspace_counters) {
  json::object bpf{
      {"bytes_client_to_backend", s.bytes[WSTEER_DIR_CLIENT_TO_BACKEND]},
      {"bytes_backend_to_client", s.bytes[WSTEER_DIR_BACKEND_TO_CLIENT]},
      {"skbs_client_to_backend", s.skbs[WSTEER_DIR_CLIENT_TO_BACKEND]},
      {"skbs_backend_to_client", s.skbs[WSTEER_DIR_BACKEND_TO_CLIENT]},
      {"redirect_failures", s.redirect_failures},
      {"zero_len_dropped", s.zero_len_dropped},
      {"no_flow", s.no_flow},
      {"held_bytes", s.held_bytes},
      {"holds", s.holds},
      {"frame_walks_lost", s.frame_walks_lost},
      {"close_holds", s.close_holds},
  };
  json::array per_backend;
  for (const auto& b : backends)
    per_backend.push_back(json::object{
        {"name", b.info.name},
        {"bytes_client_to_backend", b.counters.bytes[WSTEER_DIR_CLIENT_TO_BACKEND]},
        {"bytes_backend_to_client", b.counters.bytes[WSTEER_DIR_BACKEND_TO_CLIENT]},
        {"skbs_client_to_backend", b.counters.skbs[WSTEER_DIR_CLIENT_TO_BACKEND]},
        {"skbs_backend_to_client", b.counters.skbs[WSTEER_DIR_BACKEND_TO_CLIENT]},
    });
  return {{"bpf", std::move(bpf)},
          {"backends", std::move(per_backend)},
          {"userspace", userspace_counters ? json::value(*userspace_counters) : json::value(nullptr)}};
}

namespace {

std::string number_text(double v) {
  char text[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) std::snprintf(text, sizeof(text), "%.0f", v);
  else std::snprintf(text, sizeof(text), "%.6g", v);
  return text;
}

}  // namespace

void stats_table(const json::object& model, std::ostream& out) {
  const auto& bpf = obj(model, "bpf");
  out << "BPF verdict (per-CPU counters summed)\n";
  Table totals({{"COUNTER"}, {"CLIENT>BACKEND", true}, {"BACKEND>CLIENT", true}});
  totals.add({"bytes", std::to_string(u64(bpf, "bytes_client_to_backend")), std::to_string(u64(bpf, "bytes_backend_to_client"))});
  totals.add({"skbs", std::to_string(u64(bpf, "skbs_client_to_backend")), std::to_string(u64(bpf, "skbs_backend_to_client"))});
  totals.print(out);
  print_fields(out, {{"redirect failures", std::to_string(u64(bpf, "redirect_failures"))},
                     {"FIN skbs dropped", std::to_string(u64(bpf, "zero_len_dropped"))},
                     {"skbs of no flow", std::to_string(u64(bpf, "no_flow"))},
                     {"bytes held (backpressure)", std::to_string(u64(bpf, "held_bytes"))},
                     {"holds (backpressure)", std::to_string(u64(bpf, "holds"))},
                     {"frame walks lost (rebalance)", std::to_string(u64(bpf, "frame_walks_lost"))},
                     {"close holds (rebalance)", std::to_string(u64(bpf, "close_holds"))}});

  Table per_backend({{"BACKEND"}, {"BYTES C>B", true}, {"BYTES B>C", true}, {"SKBS C>B", true}, {"SKBS B>C", true}});
  for (const auto& v : arr(model, "backends")) {
    const auto& b = v.as_object();
    per_backend.add({str(b, "name"), std::to_string(u64(b, "bytes_client_to_backend")),
                     std::to_string(u64(b, "bytes_backend_to_client")), std::to_string(u64(b, "skbs_client_to_backend")),
                     std::to_string(u64(b, "skbs_backend_to_client"))});
  }
  if (per_backend.rows()) {
    out << "\n";
    per_backend.print(out);
  }

  out << "\nAgent (userspace counters)\n";
  const auto* userspace = model.if_contains("userspace");
  if (!userspace || !userspace->is_object()) {
    out << "not available: " << str(obj(model, "agent"), "reason") << "\n";
    return;
  }
  std::vector<std::pair<std::string, std::string>> rows;
  // Plain-HTTP requests (docs/http.md) get a table of their own below: their label sets are long.
  constexpr std::string_view kHttp = "wsteer_http_requests_total{";
  Table http({{"HTTP RESULT"}, {"REASON"}, {"CLASS"}, {"REQUESTS", true}});
  for (const auto& kv : userspace->as_object()) {
    const std::string key(kv.key());
    const double value = num(userspace->as_object(), key.c_str());
    if (key.rfind(kHttp, 0) != 0) {
      rows.emplace_back(key, number_text(value));
      continue;
    }
    if (value == 0) continue;
    // wsteer_http_requests_total{code_class="2xx",reason="none",result="proxied"}
    const auto label = [&](const std::string& name) {
      const auto at = key.find(name + "=\"");
      if (at == std::string::npos) return std::string("?");
      const auto from = at + name.size() + 2;
      return key.substr(from, key.find('"', from) - from);
    };
    http.add({label("result"), label("reason"), label("code_class"), number_text(value)});
  }
  std::sort(rows.begin(), rows.end());
  // Label sets make some names long: keep the table within 80 columns by giving a name that does
  // not fit a line of its own, its value right-aligned on the next.
  std::size_t value_width = 5;
  for (const auto& row : rows) value_width = std::max(value_width, row.second.size());
  std::size_t name_width = 7;
  for (const auto& row : rows) name_width = std::max(name_width, row.first.size());
  name_width = std::min(name_width, 80 - 2 - value_width);
  const auto line = [&](const std::string& name, const std::string& value) {
    if (name.size() > name_width) {
      out << name << "\n";
      out << std::string(name_width + 2 + value_width - value.size(), ' ') << value << "\n";
    } else {
      out << name << std::string(name_width - name.size() + 2 + value_width - value.size(), ' ') << value << "\n";
    }
  };
  line("COUNTER", "VALUE");
  for (const auto& [k, v] : rows) line(k, v);
  out << "\nPlain HTTP requests (no upgrade), by outcome\n";
  if (http.rows()) http.print(out);
  else out << "none yet\n";
}

}  // namespace wsteer::cli
