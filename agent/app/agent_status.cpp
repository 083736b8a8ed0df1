#include "app/agent_status.h"

#include <unistd.h>

#include <algorithm>

namespace wsteer::app {

boost::json::object agent_status(const std::vector<std::unique_ptr<ServiceRuntime>>& services, const AgentFacts& facts) {
  std::uint64_t reloads_ok = 0, reload_errors = 0, http_requests = 0;
  std::int64_t handshaking = 0, http_connections = 0;
  boost::json::array service_list;
  for (const auto& s : services) {
    reloads_ok += s->reloads_ok();
    reload_errors += s->reload_errors();
    handshaking += s->handshaking();
    http_connections += s->http_connections();
    http_requests += s->http_requests();
    service_list.push_back(boost::json::object{{"name", s->config().name},
                                               {"listen", format_endpoint(s->config().listen)},
                                               {"source", s->source_kind()},
                                               {"endpoints_loaded", s->loaded()},
                                               {"endpoints_version", s->steering().endpoints_version()},
                                               {"accepting", s->accepting()},
                                               {"handshaking", s->handshaking()},
                                               {"http_connections", s->http_connections()},
                                               {"http_requests", s->http_requests()}});
  }
  const bool loaded = std::all_of(services.begin(), services.end(), [](const auto& s) { return s->loaded(); });
  boost::json::object st{
      {"pid", ::getpid()},
      {"uptime_seconds",
       std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - facts.started_at).count()},
      {"datapath", facts.splice ? "splice" : "userspace"},
      {"listen", format_endpoint(services.front()->config().listen)},
      {"accepting", services.front()->accepting()},
      {"workers", facts.workers},
      {"open_connections", facts.open_connections},
      {"handshaking", handshaking},
      {"http_connections", http_connections},
      {"http_requests", http_requests},
      {"endpoints_loaded", loaded},
      {"endpoints_reloads_ok", reloads_ok},
      {"endpoints_reload_errors", reload_errors},
      {"services", std::move(service_list)}};
  if (facts.flows) {
    st["spliced_flows"] = facts.flows->flows;
    st["spliced_bytes_in_flight"] = facts.flows->bytes_in_middle;
  }
  return st;
}

}  // namespace wsteer::app
