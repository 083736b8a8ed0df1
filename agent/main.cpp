// wsteer-agent: parse the settings, run the agent.
#include "app/agent.h"
#include "app/agent_config.h"

#include <spdlog/spdlog.h>

#include <exception>
#include <iostream>

int main(int argc, char** argv) {
  const auto config = wsteer::app::parse_agent_config(argc, argv);
  if (config.check_only) {
    std::cout << "wsteer-agent: configuration OK: " << config.services.size() << " service(s)\n";
    for (const auto& s : config.services)
      std::cout << "  " << s.name << " on " << wsteer::app::format_endpoint(s.listen) << " from "
                << (s.kubernetes ? "EndpointSlices of " + s.kubernetes->label() +
                                       (s.kubernetes->port.empty() ? "" : " port " + s.kubernetes->port)
                                 : "file " + s.endpoints_file.string())
                << "\n";
    for (const auto& s : config.services)
      if (s.scaling.enabled)
        std::cout << "  " << s.name << " scales " << s.scaling.target.kind_name() << " " << s.kubernetes->ns << "/"
                  << s.scaling.target.name << " ("
                  << (s.scaling.mode == wsteer::scaler::ScaleMode::keda ? "for KEDA" : "patching its scale") << ", "
                  << s.scaling.policy.target_connections_per_pod << " connections per pod, "
                  << s.scaling.policy.min_replicas << "-" << s.scaling.policy.max_replicas << " replicas)\n";
    return 0;
  }
  try {
    return wsteer::app::run_agent(config);
  } catch (const std::exception& e) {
    std::cerr << "wsteer-agent: " << e.what() << "\n";
    return 1;
  }
}
