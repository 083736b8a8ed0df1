// wsteer-agent: parse the settings, run the agent.
#include "app/agent.h"
#include "app/agent_config.h"

#include <spdlog/spdlog.h>

#include <exception>
#include <iostream>

int main(int argc, char** argv) {
  const auto config = wsteer::app::parse_agent_config(argc, argv);
  try {
    return wsteer::app::run_agent(config);
  } catch (const std::exception& e) {
    std::cerr << "wsteer-agent: " << e.what() << "\n";
    return 1;
  }
}
