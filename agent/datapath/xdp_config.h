// Settings of the XDP front door (--xdp-* flags, xdp-* YAML keys, Helm's xdp: values).
#pragma once

#include "datapath/xdp_cidr.h"
#include "wsteer_abi.h"

#include <cstdint>
#include <string>
#include <vector>

namespace wsteer::datapath {

struct XdpConfig {
  std::vector<std::string> interfaces;  // empty: no XDP program
  // Per source: SYNs per second and the burst a quiet source may send at once. 0 rate: no limit.
  // Generous defaults: many clients behind one NAT address share one source.
  std::uint32_t syn_rate = 100;
  std::uint32_t syn_burst = 200;
  std::uint32_t max_conns_per_source = 0;  // 0: no cap
  std::vector<Cidr> deny, allow;

  bool enabled() const { return !interfaces.empty(); }
};

// Throws std::invalid_argument naming the setting: interface names (1..15 characters, no '/',
// ':' or whitespace, no duplicates), syn rate at most 1e9/s, burst >= 1 when limited, list sizes.
void validate_xdp_config(const XdpConfig& config);

// The wsteer_xdp_config map value for these settings.
wsteer_xdp_config xdp_map_config(const XdpConfig& config);

}  // namespace wsteer::datapath
