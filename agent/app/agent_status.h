// The live facts wsteerctl's `status` shows about this agent (pid, uptime, connections, each
// Service's endpoints and listener), as one JSON object (README, wsteerctl status).
#pragma once

#include "app/service_runtime.h"
#include "proxy/spliced_flows.h"

#include <boost/json/object.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

namespace wsteer::app {

struct AgentFacts {
  std::chrono::steady_clock::time_point started_at;
  bool splice = false;
  unsigned workers = 0;
  std::int64_t open_connections = 0;
  std::optional<proxy::SplicedFlowStats> flows;  // splice datapath only
};

boost::json::object agent_status(const std::vector<std::unique_ptr<ServiceRuntime>>& services, const AgentFacts& facts);

}  // namespace wsteer::app
