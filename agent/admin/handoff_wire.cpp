#include "admin/handoff_wire.h"

#include "admin/control_protocol.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace wsteer::admin {
namespace json = boost::json;

namespace {

[[noreturn]] void fail(const char* what) {
  throw std::runtime_error(std::string("hand-off: ") + what + ": " +
                           (errno == EAGAIN ? "timed out" : std::strerror(errno)));
}

}  // namespace

void set_handoff_timeout(int socket, std::chrono::milliseconds timeout) {
  // A socket taken from Asio is non-blocking: the timeouts apply to blocking calls only.
  if (const int flags = ::fcntl(socket, F_GETFL); flags >= 0 && (flags & O_NONBLOCK))
    ::fcntl(socket, F_SETFL, flags & ~O_NONBLOCK);
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  ::setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

void send_handoff(int socket, const json::object& body, std::span<const int> fds) {
  if (fds.size() > kMaxFdsPerMessage) throw std::logic_error("hand-off: too many descriptors in one message");
  const std::string line = json::serialize(body) + "\n";
  std::size_t sent = 0;
  while (sent < line.size()) {
    iovec iov{const_cast<char*>(line.data() + sent), line.size() - sent};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    std::vector<char> control;
    if (sent == 0 && !fds.empty()) {  // the descriptors ride with the first byte
      control.resize(CMSG_SPACE(sizeof(int) * fds.size()));
      msg.msg_control = control.data();
      msg.msg_controllen = control.size();
      cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
      cmsg->cmsg_level = SOL_SOCKET;
      cmsg->cmsg_type = SCM_RIGHTS;
      cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
    }
    const ssize_t n = ::sendmsg(socket, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("send");
    }
    sent += static_cast<std::size_t>(n);
  }
}

HandoffMessage receive_handoff(int socket) {
  HandoffMessage out;
  std::string line;
  char buf[16 * 1024];
  std::vector<char> control(CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage));
  while (line.empty() || line.back() != '\n') {
    iovec iov{buf, sizeof(buf)};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    const ssize_t n = ::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("receive");
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        out.fds.emplace_back(fd);
      }
    }
    if (msg.msg_flags & MSG_CTRUNC) throw std::runtime_error("hand-off: descriptors truncated (out of descriptors?)");
    if (n == 0) throw std::runtime_error("hand-off: the other agent closed the connection");
    line.append(buf, static_cast<std::size_t>(n));
    if (line.size() > 16 * kMaxControlMessage) throw std::runtime_error("hand-off: message too large");
  }
  boost::system::error_code ec;
  auto value = json::parse(line, ec);
  if (ec || !value.is_object()) throw std::runtime_error("hand-off: malformed message");
  out.body = std::move(value.as_object());
  return out;
}

}  // namespace wsteer::admin
