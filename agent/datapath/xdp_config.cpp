#include "datapath/xdp_config.h"

#include <net/if.h>

#include <set>
#include <stdexcept>

namespace wsteer::datapath {

void validate_xdp_config(const XdpConfig& c) {
  std::set<std::string> seen;
  for (const auto& name : c.interfaces) {
    if (name.empty() || name.size() >= IFNAMSIZ)
      throw std::invalid_argument("xdp-interfaces: '" + name + "' is not an interface name (1 to " +
                                  std::to_string(IFNAMSIZ - 1) + " characters)");
    if (name.find_first_of("/: \t\n") != std::string::npos || name == "." || name == "..")
      throw std::invalid_argument("xdp-interfaces: '" + name + "' is not an interface name");
    if (!seen.insert(name).second) throw std::invalid_argument("xdp-interfaces: '" + name + "' is listed twice");
  }
  if (c.syn_rate > 1'000'000'000u) throw std::invalid_argument("xdp-syn-rate: at most 1000000000 SYNs per second");
  if (c.syn_rate > 0 && c.syn_burst == 0)
    throw std::invalid_argument("xdp-syn-burst must be at least 1 while xdp-syn-rate limits SYNs");
  for (const auto* list : {&c.deny, &c.allow})
    if (list->size() > WSTEER_XDP_MAX_CIDRS)
      throw std::invalid_argument("xdp-" + std::string(list == &c.deny ? "deny" : "allow") + ": at most " +
                                  std::to_string(WSTEER_XDP_MAX_CIDRS) + " CIDRs");
  if (!c.enabled() && (!c.deny.empty() || !c.allow.empty() || c.max_conns_per_source))
    throw std::invalid_argument("xdp-deny, xdp-allow and xdp-max-conns-per-source need xdp-interfaces");
}

wsteer_xdp_config xdp_map_config(const XdpConfig& c) {
  wsteer_xdp_config m{};
  m.syn_rate = c.syn_rate;
  m.syn_burst = c.syn_burst;
  if (c.syn_rate > 0) {
    m.syn_cost_ns = 1'000'000'000ULL / c.syn_rate;
    m.syn_burst_ns = m.syn_cost_ns * c.syn_burst;
  }
  m.max_conns_per_source = c.max_conns_per_source;
  return m;
}

}  // namespace wsteer::datapath
