// A burst of real WebSocket clients for the demo: open N connections through the agent, echo a
// message on each, close them, and report which backend each one reached.
#pragma once

#include <map>
#include <string>

namespace wsteer::demo {

struct BurstResult {
  int echoed = 0;
  int failed = 0;
  std::map<std::string, int> per_backend;  // from the X-Wsteer-Backend header of each 101
};

BurstResult run_burst(const std::string& host, unsigned short port, int connections);

}  // namespace wsteer::demo
