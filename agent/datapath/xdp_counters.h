// The XDP guard's verdict counters (wsteer_xdp_counters): names for labels, and the per-CPU sum.
#pragma once

#include "wsteer_abi.h"

#include <array>
#include <cstdint>

namespace wsteer::datapath {

using XdpCounters = std::array<std::uint64_t, WSTEER_XDP_REASON_COUNT>;

struct XdpReasonLabel {
  const char* action;  // "pass" or "drop"
  const char* reason;
};
// The {action, reason} label pair of an enum wsteer_xdp_reason (metrics, wsteerctl).
XdpReasonLabel xdp_reason_label(std::uint32_t reason);

// wsteer_xdp_counters summed over CPUs, from any descriptor of the map (the agent's or a pin).
XdpCounters read_xdp_counters(int counters_fd);

}  // namespace wsteer::datapath
