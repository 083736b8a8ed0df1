#include "datapath/socket_info.h"

#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

namespace wsteer::datapath {

std::optional<std::uint64_t> socket_cookie(int fd) {
  std::uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  if (::getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) != 0) return std::nullopt;
  return cookie;
}

std::optional<std::uint64_t> tcp_bytes_written(int fd) {
  tcp_info info{};
  socklen_t len = sizeof(info);
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return std::nullopt;
  int outq = 0;  // unacked + unsent bytes in the write queue
  if (::ioctl(fd, SIOCOUTQ, &outq) != 0) return std::nullopt;
  return info.tcpi_bytes_acked + static_cast<std::uint64_t>(outq);
}

std::optional<std::uint64_t> tcp_bytes_acked(int fd) {
  tcp_info info{};
  socklen_t len = sizeof(info);
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return std::nullopt;
  return info.tcpi_bytes_acked;
}

bool kick(int fd) {
  int one = 1;
  return ::setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one)) == 0;
}

}  // namespace wsteer::datapath
