// Open client connections per source, mirrored into wsteer_xdp_conns for the XDP guard's
// connection cap: +1 when a session starts (right after accept), -1 when the connection closes,
// whichever path closes it (a session that ends in userspace, or a spliced flow removed from the
// datapath). Keyed by the client socket's cookie, so a close reported twice counts once.
#pragma once

#include "wsteer_abi.h"

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>

namespace wsteer::datapath {

class XdpConnCounts {
 public:
  explicit XdpConnCounts(int conns_map_fd) : fd_(conns_map_fd) {}
  void opened(std::uint64_t cookie, const boost::asio::ip::address& peer);
  void closed(std::uint64_t cookie);
  std::size_t open_connections() const;
  std::uint32_t count(const wsteer_xdp_source& source) const;

 private:
  struct Less {
    bool operator()(const wsteer_xdp_source& a, const wsteer_xdp_source& b) const;
  };
  void write(const wsteer_xdp_source& source, std::uint32_t n);  // under mutex_

  int fd_;
  mutable std::mutex mutex_;
  std::unordered_map<std::uint64_t, wsteer_xdp_source> by_cookie_;
  std::map<wsteer_xdp_source, std::uint32_t, Less> counts_;
};

}  // namespace wsteer::datapath
