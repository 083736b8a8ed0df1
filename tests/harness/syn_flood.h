// Hand-built Ethernet frames sent through an AF_PACKET socket: SYN floods from spoofed or real
// sources, IPv4 or IPv6, optionally VLAN-tagged or deliberately malformed. What the XDP guard's
// tests and benchmark throw at it (no hping3 needed, and frames hping3 cannot make).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace wsteer::test {

using Mac = std::array<std::uint8_t, 6>;

// The MAC address of `interface` inside network namespace `netns`.
Mac interface_mac(const std::string& netns, const std::string& interface);

struct FrameSpec {
  Mac src_mac{}, dst_mac{};
  std::string src_ip, dst_ip;  // both IPv4 or both IPv6
  std::uint16_t src_port = 40000, dst_port = 8080;
  std::uint8_t tcp_flags = 0x02;  // SYN
  std::uint16_t vlan = 0;         // non-zero: an 802.1Q tag with this VLAN id
  enum class Defect { none, short_doff, bad_ihl, truncated_tcp } defect = Defect::none;
};

// One frame with correct IP and TCP checksums (unless a defect makes them meaningless).
std::vector<std::uint8_t> build_frame(const FrameSpec& spec);

struct FloodResult {
  std::uint64_t sent = 0;
  double seconds = 0;
};

// Sends `count` copies of `spec` from `interface` in `netns` as fast as sendmmsg allows, varying the
// source port (and, with `spread_sources`, the last byte of the source address over 1..250) so
// every frame is a new connection attempt. Stops early after `max_seconds`.
FloodResult flood(const std::string& netns, const std::string& interface, FrameSpec spec, std::uint64_t count,
                  double max_seconds = 30, bool spread_sources = false);

}  // namespace wsteer::test
