#include "proxy/kernel_flow_ops.h"

#include "datapath/socket_info.h"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

namespace wsteer::proxy {

ssize_t KernelFlowOps::recv(int fd, char* data, std::size_t size) {
  const ssize_t n = ::recv(fd, data, size, MSG_DONTWAIT);
  return n < 0 ? -errno : n;
}

ssize_t KernelFlowOps::peek(int fd, char* data, std::size_t size) {
  const ssize_t n = ::recv(fd, data, size, MSG_DONTWAIT | MSG_PEEK);
  return n < 0 ? -errno : n;
}

ssize_t KernelFlowOps::send(int fd, const char* data, std::size_t size) {
  const ssize_t n = ::send(fd, data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
  return n < 0 ? -errno : n;
}

void KernelFlowOps::shutdown_write(int fd) {
  // ENOTCONN: the peer reset meanwhile; its error event ends the flow.
  if (::shutdown(fd, SHUT_WR) != 0 && errno != ENOTCONN)
    spdlog::warn("shutdown(SHUT_WR) of a spliced socket failed: {}", std::system_category().message(errno));
}

bool KernelFlowOps::set_rcvlowat(int fd, std::uint64_t bytes) {
  const int lowat = static_cast<int>(std::clamp<std::uint64_t>(bytes, 1, 1u << 30));
  return ::setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat)) == 0;
}

std::size_t KernelFlowOps::cap_receive_buffer(int fd, std::uint64_t bytes) {
  // The kernel doubles the value it is given (and clamps it to net.core.rmem_max).
  const int half = static_cast<int>(std::clamp<std::uint64_t>(bytes / 2, 64 * 1024, 1u << 30));
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &half, sizeof(half)) != 0)
    spdlog::debug("SO_RCVBUF on a relaying socket failed: {}", std::system_category().message(errno));
  int now = 0;
  socklen_t len = sizeof(now);
  if (::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &now, &len) != 0 || now < 0) return 0;
  return static_cast<std::size_t>(now);
}

void KernelFlowOps::kick(int fd) {
  if (!datapath::kick(fd)) spdlog::debug("SO_RCVLOWAT 1 on a spliced socket failed: {}", std::system_category().message(errno));
}

std::uint64_t KernelFlowOps::bytes_written(int fd) { return datapath::tcp_bytes_written(fd).value_or(0); }
std::uint64_t KernelFlowOps::bytes_acked(int fd) { return datapath::tcp_bytes_acked(fd).value_or(0); }

int KernelFlowOps::socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

SocketEvents KernelFlowOps::events_of(std::uint32_t e) {
  return {(e & EPOLLERR) != 0, (e & (EPOLLRDHUP | EPOLLHUP)) != 0, (e & EPOLLIN) != 0, (e & EPOLLOUT) != 0};
}

bool KernelFlowOps::control(int op, int fd, std::uint64_t token, Interest interest) {
  epoll_event ev{};
  // RDHUP always: a FIN must be seen. IN only while held bytes are read by the agent: data the
  // kernel moves must not wake the loop. Edge-triggered: a half-closed socket stays RDHUP, report
  // it once.
  ev.events = EPOLLRDHUP | EPOLLET | (interest.readable ? EPOLLIN : 0u) | (interest.writable ? EPOLLOUT : 0u);
  ev.data.u64 = token;
  if (::epoll_ctl(epoll_, op, fd, &ev) == 0) return true;
  spdlog::error("epoll_ctl({}) of a spliced socket failed: {}", op == EPOLL_CTL_ADD ? "add" : "mod",
                std::system_category().message(errno));
  return false;
}

bool KernelFlowOps::watch(int fd, std::uint64_t token, Interest interest) {
  return control(EPOLL_CTL_ADD, fd, token, interest);
}

bool KernelFlowOps::rewatch(int fd, std::uint64_t token, Interest interest) {
  return control(EPOLL_CTL_MOD, fd, token, interest);
}

void KernelFlowOps::unwatch(int fd) {
  // ENOENT: it was never watched (its watch failed, which ended the flow).
  if (::epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr) != 0 && errno != ENOENT)
    spdlog::warn("epoll_ctl(del) of a spliced socket failed: {}", std::system_category().message(errno));
}

}  // namespace wsteer::proxy
