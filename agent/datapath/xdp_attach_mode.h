// How the kernel runs an interface's XDP program right now, in words for logs and wsteerctl.
#pragma once

#include <string>

namespace wsteer::datapath {

// "native", "generic", "offloaded", "multi", "none", or "unknown" when the query fails.
std::string xdp_attach_mode(int ifindex);

}  // namespace wsteer::datapath
