// Hand-off: a spliced flow as the old agent describes it and as the new one rebuilds it. The
// kernel side (map entries, verdict state) carries over untouched; what lives only in the old
// process is written down: the flow's Service and backend (by name: the new agent's backend ids
// come from its own pool), its cookies, byte bases and relayed counts.
#pragma once

#include "app/service_runtime.h"
#include "metrics/agent_metrics.h"
#include "proxy/spliced_flows.h"

#include <boost/json/object.hpp>

#include <memory>
#include <vector>

namespace wsteer::app {

boost::json::object describe_flow(const proxy::SplicedFlow& flow,
                                  const std::vector<std::unique_ptr<ServiceRuntime>>& services);

// The flow owning `client` and `backend`, counted in its Service's steering (by backend name)
// and in wsteer_connections_active. Throws std::invalid_argument on malformed metadata or when
// the descriptors are not the sockets the metadata names (cookies).
proxy::SplicedFlow rebuild_flow(const boost::json::object& meta, UniqueFd client, UniqueFd backend,
                                const std::vector<std::unique_ptr<ServiceRuntime>>& services,
                                metrics::AgentMetrics& metrics);

}  // namespace wsteer::app
