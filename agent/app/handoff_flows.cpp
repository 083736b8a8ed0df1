#include "app/handoff_flows.h"

#include "datapath/socket_info.h"

#include <boost/json/value_to.hpp>
#include <spdlog/spdlog.h>

#include <stdexcept>

namespace wsteer::app {
namespace json = boost::json;

namespace {

std::uint64_t number(const json::object& meta, const char* field) {
  const auto* v = meta.if_contains(field);
  if (!v || !v->is_number()) throw std::invalid_argument(std::string("hand-off metadata: no number '") + field + "'");
  return v->to_number<std::uint64_t>();
}

std::string text(const json::object& meta, const char* field) {
  const auto* v = meta.if_contains(field);
  if (!v || !v->is_string()) throw std::invalid_argument(std::string("hand-off metadata: no string '") + field + "'");
  return std::string(v->as_string());
}

}  // namespace

json::object describe_flow(const proxy::SplicedFlow& flow, const std::vector<std::unique_ptr<ServiceRuntime>>& services) {
  json::object meta{{"client_cookie", flow.sockets.client_cookie},
                    {"backend_cookie", flow.sockets.backend_cookie},
                    {"client_written_base", flow.client_written_base},
                    {"backend_written_base", flow.backend_written_base},
                    {"client_relayed", flow.client_relayed},
                    {"backend_relayed", flow.backend_relayed},
                    {"backend_id", flow.lease.backend_id()}};
  for (const auto& s : services) {
    if (&s->steering() != flow.lease.steering()) continue;
    meta["service"] = s->config().name;
    for (const auto& b : s->steering().snapshot())
      if (b.backend.id == flow.lease.backend_id()) {
        meta["backend"] = b.backend.name;
        meta["backend_address"] = b.backend.address.to_string();
        meta["backend_port"] = b.backend.port;
      }
  }
  return meta;
}

proxy::SplicedFlow rebuild_flow(const json::object& meta, UniqueFd client, UniqueFd backend,
                                const std::vector<std::unique_ptr<ServiceRuntime>>& services,
                                metrics::AgentMetrics& metrics) {
  proxy::SplicedFlow flow;
  flow.sockets.client_fd = client.get();
  flow.sockets.backend_fd = backend.get();
  flow.sockets.client_cookie = number(meta, "client_cookie");
  flow.sockets.backend_cookie = number(meta, "backend_cookie");
  // The cookies key every map entry: the descriptors must be those very sockets.
  if (datapath::socket_cookie(client.get()) != flow.sockets.client_cookie ||
      datapath::socket_cookie(backend.get()) != flow.sockets.backend_cookie)
    throw std::invalid_argument("hand-off: descriptors do not match the flow's cookies");
  flow.client_written_base = number(meta, "client_written_base");
  flow.backend_written_base = number(meta, "backend_written_base");
  flow.client_relayed = number(meta, "client_relayed");
  flow.backend_relayed = number(meta, "backend_relayed");
  flow.client = std::move(client);
  flow.backend = std::move(backend);
  flow.active = proxy::ActiveConnection(metrics.active_connections());

  // Counted where this agent's steering knows the backend by name. Unknown (another endpoint list):
  // the flow still lives on, uncounted, rather than being dropped.
  const std::string service = meta.contains("service") ? text(meta, "service") : "";
  const std::string name = meta.contains("backend") ? text(meta, "backend") : "";
  for (const auto& s : services) {
    if (s->config().name != service) continue;
    for (const auto& b : s->steering().snapshot()) {
      if (b.backend.name != name) continue;
      if (b.backend.id != number(meta, "backend_id"))
        spdlog::debug("adopted flow to {}: backend id {} here, {} before (per-backend kernel counters stay under the old id)",
                      name, b.backend.id, number(meta, "backend_id"));
      flow.lease = proxy::BackendLease(s->steering(), b.backend.id);
      return flow;
    }
  }
  spdlog::warn("adopted flow of service '{}' to backend '{}': not in this agent's endpoints, not counted", service, name);
  return flow;
}

}  // namespace wsteer::app
