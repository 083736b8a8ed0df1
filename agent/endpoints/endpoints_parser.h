// The endpoints file format. One backend per line:
//
//   [NAME ]HOST:PORT[ weight=N][ drain][ max-connections=N]
//
//   # comments take a whole line or the end of one; blank lines are fine
//   pod-a 10.0.0.11:8080 weight=2
//   10.0.0.12:8080 drain                 # named "10.0.0.12:8080"
//   pod-c [fd00::13]:8080 max-connections=500
//
// HOST is an IP literal, IPv6 in brackets; hostnames are rejected because the datapath steers to
// addresses and a name resolved once would go stale silently. The first word is a NAME when it has
// no ':' and more words follow; otherwise the entry is named by its canonical "HOST:PORT". Names and
// addresses are unique. weight is 1-1000 (default 1); max-connections 0 means unlimited.
#pragma once

#include "endpoints/endpoints_error.h"
#include "steering/endpoint.h"

#include <cstdint>
#include <string_view>

namespace wsteer::endpoints {

inline constexpr std::uint32_t kMaxWeight = 1000;

// The list in file order, or the first error with its line number.
Result<steering::EndpointList> parse_endpoints(std::string_view text);

}  // namespace wsteer::endpoints
