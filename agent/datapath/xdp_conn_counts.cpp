#include "datapath/xdp_conn_counts.h"

#include "datapath/xdp_cidr.h"

#include <boost/asio/ip/tcp.hpp>
#include <bpf/bpf.h>
#include <sys/socket.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace wsteer::datapath {

bool XdpConnCounts::Less::operator()(const wsteer_xdp_source& a, const wsteer_xdp_source& b) const {
  return std::memcmp(a.addr, b.addr, sizeof(a.addr)) < 0;
}

void XdpConnCounts::write(const wsteer_xdp_source& source, std::uint32_t n) {
  if (!writing_) return;
  // A failed write only weakens the cap for this source; the connection itself is fine.
  const int rc = n ? bpf_map_update_elem(fd_, &source, &n, BPF_ANY) : bpf_map_delete_elem(fd_, &source);
  if (rc != 0 && !(n == 0 && errno == ENOENT))
    spdlog::warn("wsteer_xdp_conns: cannot set {} to {}: {}", to_string(source), n, std::strerror(errno));
}

void XdpConnCounts::opened(std::uint64_t cookie, const boost::asio::ip::address& peer) {
  const auto source = source_of(peer);
  std::lock_guard lock(mutex_);
  if (!by_cookie_.emplace(cookie, source).second) return;
  write(source, ++counts_[source]);
}

void XdpConnCounts::closed(std::uint64_t cookie) {
  std::lock_guard lock(mutex_);
  const auto it = by_cookie_.find(cookie);
  if (it == by_cookie_.end()) return;  // already counted out (or never counted)
  const auto source = it->second;
  by_cookie_.erase(it);
  auto& n = counts_[source];
  if (n > 0) --n;
  write(source, n);
  if (n == 0) counts_.erase(source);
}

bool XdpConnCounts::adopted(std::uint64_t cookie, int client_fd) {
  boost::asio::ip::tcp::endpoint peer;
  socklen_t len = static_cast<socklen_t>(peer.capacity());
  if (::getpeername(client_fd, peer.data(), &len) != 0) return false;
  peer.resize(len);
  opened(cookie, peer.address());
  return true;
}

void XdpConnCounts::forget(std::uint64_t cookie) {
  std::lock_guard lock(mutex_);
  const auto it = by_cookie_.find(cookie);
  if (it == by_cookie_.end()) return;
  const auto count = counts_.find(it->second);
  by_cookie_.erase(it);
  if (count != counts_.end() && --count->second == 0) counts_.erase(count);
}

void XdpConnCounts::stop_writing() {
  std::lock_guard lock(mutex_);
  writing_ = false;
}

void XdpConnCounts::resync() {
  std::lock_guard lock(mutex_);
  writing_ = true;
  wsteer_xdp_source key{}, next{};
  std::vector<wsteer_xdp_source> unknown;
  for (const void* prev = nullptr; bpf_map_get_next_key(fd_, prev, &next) == 0; prev = &key) {
    key = next;
    if (!counts_.contains(key)) unknown.push_back(key);
  }
  for (const auto& source : unknown) write(source, 0);
  for (const auto& [source, n] : counts_) write(source, n);
}

std::size_t XdpConnCounts::open_connections() const {
  std::lock_guard lock(mutex_);
  return by_cookie_.size();
}

std::uint32_t XdpConnCounts::count(const wsteer_xdp_source& source) const {
  std::lock_guard lock(mutex_);
  const auto it = counts_.find(source);
  return it == counts_.end() ? 0 : it->second;
}

}  // namespace wsteer::datapath
