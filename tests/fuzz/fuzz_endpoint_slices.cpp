// EndpointSlice JSON from the API server (agent/endpoints/endpoint_slices.*): a list's items, then
// the same objects as watch events (upsert, erase). The server is trusted less than it looks: any
// field may be missing or of the wrong type after a version skew, and that must not crash.
#include "endpoints/endpoint_slices.h"

#include <boost/json/parse.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using wsteer::endpoints::EndpointSliceCache;
  boost::system::error_code ec;
  const auto doc = boost::json::parse(std::string_view(reinterpret_cast<const char*>(data), size), ec);
  if (ec) return 0;
  // A list response ({"items": [...]}) or a bare array of slices or one slice.
  std::vector<boost::json::object> slices;
  if (const auto* object = doc.if_object()) {
    if (const auto* items = object->if_contains("items"); items && items->is_array()) {
      for (const auto& item : items->get_array())
        if (item.is_object()) slices.push_back(item.get_object());
    } else {
      slices.push_back(*object);
    }
  } else if (const auto* array = doc.if_array()) {
    for (const auto& item : *array)
      if (item.is_object()) slices.push_back(item.get_object());
  }
  for (const char* port : {"", "web", "8080"}) {
    EndpointSliceCache cache(port);
    cache.replace(slices);
    for (const auto& slice : slices) cache.upsert(slice);
    for (const auto& endpoint : cache.endpoints())
      if (endpoint.name.empty() || endpoint.weight < 1) std::abort();
    for (const auto& slice : slices) cache.erase(slice);
  }
  return 0;
}
