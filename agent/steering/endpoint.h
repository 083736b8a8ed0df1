// One backend as the endpoint sources (file, Kubernetes) describe it. Pure data.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace wsteer::steering {

struct Endpoint {
  std::string name;                   // unique; defaults to "HOST:PORT" when the source names none
  boost::asio::ip::address address;   // an IP literal, v4 or v6
  std::uint16_t port = 0;
  std::uint32_t weight = 1;           // relative share of the Maglev table, >= 1
  bool draining = false;              // no new connections; established ones stay
  std::uint32_t max_connections = 0;  // 0: unlimited

  bool operator==(const Endpoint&) const = default;
};

using EndpointList = std::vector<Endpoint>;

}  // namespace wsteer::steering
