// wsteerctl flows: the live spliced flows, from wsteer_flows (two entries per flow, one per socket).
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/json_fields.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <unordered_map>

namespace wsteer::cli {
namespace json = boost::json;

json::object flows_model(const std::vector<FlowSideEntry>& sides, const std::vector<BackendEntry>& backends,
                         const std::function<bool(std::uint64_t cookie)>& socket_open, const FlowQuery& query) {
  std::unordered_map<std::uint32_t, std::string> names;
  for (const auto& b : backends) names[b.id] = b.info.name;
  std::unordered_map<std::uint64_t, const wsteer_flow_side*> by_cookie;
  for (const auto& s : sides) by_cookie[s.cookie] = &s.side;

  struct Row {
    std::uint64_t client_cookie, backend_cookie;
    const wsteer_flow_side* client;
    const wsteer_flow_side* backend;  // may be null for a half-removed flow
  };
  std::vector<Row> rows;
  std::uint64_t stale = 0;  // entries whose sockets are closed: left behind by a killed agent
  for (const auto& s : sides) {
    if (s.side.direction != WSTEER_DIR_CLIENT_TO_BACKEND) continue;
    const auto peer = by_cookie.find(s.side.peer_cookie);
    if (!socket_open(s.cookie)) {
      ++stale;
      continue;
    }
    rows.push_back({s.cookie, s.side.peer_cookie, &s.side, peer == by_cookie.end() ? nullptr : peer->second});
  }
  const auto name_of = [&](std::uint32_t id) {
    const auto it = names.find(id);
    return it != names.end() ? it->second : "#" + std::to_string(id);
  };
  if (!query.backend.empty())
    std::erase_if(rows, [&](const Row& r) { return name_of(r.client->backend_id) != query.backend; });
  // Oldest first, then by cookie, so the order is stable from one run to the next.
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return a.client->created_ns != b.client->created_ns ? a.client->created_ns < b.client->created_ns
                                                        : a.client_cookie < b.client_cookie;
  });
  const std::size_t matching = rows.size();
  if (query.limit && rows.size() > query.limit) rows.resize(query.limit);

  json::array flows;
  for (const auto& r : rows) {
    std::array<std::uint8_t, 16> addr{};
    std::memcpy(addr.data(), r.client->client_addr, addr.size());
    const auto age_ns = query.now_ns > r.client->created_ns ? query.now_ns - r.client->created_ns : 0;
    flows.push_back(json::object{
        {"client", endpoint_text(addr, r.client->client_port)},
        {"client_address", address_text(addr)},
        {"client_port", r.client->client_port},
        {"backend", name_of(r.client->backend_id)},
        {"backend_id", r.client->backend_id},
        {"age_seconds", age_ns / 1'000'000'000ULL},
        {"bytes_client_to_backend", r.client->bytes},
        {"bytes_backend_to_client", r.backend ? r.backend->bytes : 0},
        {"redirect_failures", r.client->redirect_failures + (r.backend ? r.backend->redirect_failures : 0)},
        {"client_cookie", r.client_cookie},
        {"backend_cookie", r.backend_cookie},
    });
  }
  return {{"matching", matching}, {"shown", flows.size()}, {"closed_entries", stale}, {"flows", std::move(flows)}};
}

void flows_table(const json::object& model, std::ostream& out) {
  Table table({{"CLIENT"}, {"BACKEND"}, {"AGE", true}, {"C>B", true}, {"B>C", true}});
  for (const auto& v : arr(model, "flows")) {
    const auto& f = v.as_object();
    table.add({str(f, "client"), str(f, "backend"), human_duration(u64(f, "age_seconds")),
               human_bytes(u64(f, "bytes_client_to_backend")), human_bytes(u64(f, "bytes_backend_to_client"))});
  }
  if (table.rows() == 0) out << "no live spliced flows\n";
  else table.print(out);
  if (u64(model, "matching") > u64(model, "shown"))
    out << "showing " << u64(model, "shown") << " of " << u64(model, "matching") << " flows (oldest first; --limit N, 0 for all)\n";
  if (u64(model, "closed_entries"))
    out << u64(model, "closed_entries") << " stale flow entries (sockets closed; an agent did not exit cleanly)\n";
  print_agent_down_note(model, out);
}

}  // namespace wsteer::cli
