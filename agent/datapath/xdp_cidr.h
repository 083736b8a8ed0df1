// CIDRs for the XDP guard's allow and deny lists, and the guard's notion of a "source": one IPv4
// address, or one IPv6 /64 (a single host usually owns a whole /64, so limiting per /128 would
// be trivially dodged).
#pragma once

#include "wsteer_abi.h"

#include <boost/asio/ip/address.hpp>

#include <array>
#include <cstdint>
#include <string>

namespace wsteer::datapath {

struct Cidr {
  bool v6 = false;
  std::array<std::uint8_t, 16> addr{};  // IPv4: the first 4 bytes
  std::uint8_t prefix = 0;              // bits

  bool operator==(const Cidr&) const = default;
};

// "10.0.0.0/8", "2001:db8::/32", or a bare address (a /32 or /128). Throws std::invalid_argument
// with the text and what is wrong: not an address, a prefix out of range, or host bits set
// ("10.1.2.3/8": a typo for 10.0.0.0/8 or for 10.1.2.3/32? we refuse to guess).
Cidr parse_cidr(const std::string& text);
std::string to_string(const Cidr& cidr);

wsteer_xdp_lpm4 lpm4_key(const Cidr& cidr);  // cidr must be IPv4
wsteer_xdp_lpm6 lpm6_key(const Cidr& cidr);  // cidr must be IPv6
Cidr cidr_of(const wsteer_xdp_lpm4& key);
Cidr cidr_of(const wsteer_xdp_lpm6& key);

// The source an address counts against: IPv4 (also IPv4-mapped IPv6) as ::ffff:a.b.c.d, IPv6
// masked to its /64. The same key the XDP program builds from a frame (bpf/lib/xdp_parse.h).
wsteer_xdp_source source_of(const boost::asio::ip::address& address);
// "203.0.113.7" or "2001:db8:1:2::/64".
std::string to_string(const wsteer_xdp_source& source);

}  // namespace wsteer::datapath
