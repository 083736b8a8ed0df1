// The endpoints file (agent/endpoints/endpoints_parser.*), as an operator or a config generator
// writes it. Besides not crashing: what parses keeps the format's promises (unique names and
// addresses, weights 1..kMaxWeight, a port), and an error always names a reason.
#include "endpoints/endpoints_parser.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <utility>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace wsteer::endpoints;
  const auto result = parse_endpoints(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!result) {
    if (result.error().reason.empty()) std::abort();
    (void)result.error().message();
    return 0;
  }
  std::set<std::string> names;
  std::set<std::pair<std::string, std::uint16_t>> addresses;
  for (const auto& e : *result) {
    if (e.name.empty() || !names.insert(e.name).second) std::abort();
    if (!addresses.insert({e.address.to_string(), e.port}).second) std::abort();
    if (e.weight < 1 || e.weight > kMaxWeight) std::abort();
  }
  return 0;
}
