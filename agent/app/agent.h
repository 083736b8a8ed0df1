// Wires the agent together: endpoints -> steering -> datapath/proxy, metrics and admin, threads,
// signals and orderly shutdown.
#pragma once

#include "app/agent_config.h"

namespace wsteer::app {

// Runs until SIGTERM/SIGINT and the shutdown grace period; returns the process exit code.
int run_agent(const AgentConfig& config);

}  // namespace wsteer::app
