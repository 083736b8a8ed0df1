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
  // Hand-off, new agent: a flow adopted from the predecessor counts for its client's source
  // (read from the socket). False if the socket has no peer any more (it is closing).
  bool adopted(std::uint64_t cookie, int client_fd);
  // Hand-off done: the map (the predecessor's, reused) says exactly what this agent counts; the
  // predecessor's last writes and sources only it knew go.
  void resync();
  // Hand-off, old agent: a flow the successor now owns leaves our counts (the successor writes its
  // source's count as it adopts it); stop_writing(): the map is the successor's from now on
  // (resync() takes it back if the hand-off fails).
  void forget(std::uint64_t cookie);
  void stop_writing();
  std::size_t open_connections() const;
  std::uint32_t count(const wsteer_xdp_source& source) const;

 private:
  struct Less {
    bool operator()(const wsteer_xdp_source& a, const wsteer_xdp_source& b) const;
  };
  void write(const wsteer_xdp_source& source, std::uint32_t n);  // under mutex_

  int fd_;
  bool writing_ = true;
  mutable std::mutex mutex_;
  std::unordered_map<std::uint64_t, wsteer_xdp_source> by_cookie_;
  std::map<wsteer_xdp_source, std::uint32_t, Less> counts_;
};

}  // namespace wsteer::datapath
