#include "cli/control_client.h"

#include "admin/control_protocol.h"
#include "cli/ctl_error.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/unique_fd.h"

namespace wsteer::cli {
namespace json = boost::json;

namespace {

// Waits for `events` on `fd` until `deadline`; false on timeout.
bool wait_for(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

}  // namespace

ControlClient::ControlClient(std::filesystem::path path, std::chrono::milliseconds timeout)
    : path_(std::move(path)), timeout_(timeout) {}

json::object ControlClient::call(const json::object& request) const {
  const auto where = path_.string();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (where.size() >= sizeof(addr.sun_path)) throw CtlError("control socket path too long: " + where);
  std::memcpy(addr.sun_path, where.c_str(), where.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw CtlError(std::string("socket: ") + std::strerror(errno));
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int err = errno;
    if (err == ENOENT) throw CtlError("agent not running: no control socket at " + where);
    if (err == EACCES || err == EPERM) throw CtlError("permission denied on " + where + " (the control socket is root only)");
    if (err == ECONNREFUSED) throw CtlError("agent not running: stale control socket " + where + " (nobody listens)");
    throw CtlError("cannot connect to " + where + ": " + std::strerror(err));
  }

  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  const auto line = json::serialize(request) + "\n";
  std::size_t sent = 0;
  while (sent < line.size()) {
    if (!wait_for(fd.get(), POLLOUT, deadline)) throw CtlError("agent does not answer on " + where + " (stopped or hung?)");
    const auto n = ::send(fd.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EINTR && errno != EAGAIN) throw CtlError("send to " + where + ": " + std::strerror(errno));
    if (n > 0) sent += static_cast<std::size_t>(n);
  }

  std::string reply;
  char buf[4096];
  while (reply.find('\n') == std::string::npos) {
    if (!wait_for(fd.get(), POLLIN, deadline)) throw CtlError("agent does not answer on " + where + " (stopped or hung?)");
    const auto n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      throw CtlError("read from " + where + ": " + std::strerror(errno));
    }
    reply.append(buf, static_cast<std::size_t>(n));
    if (reply.size() > 16 * admin::kMaxControlMessage) throw CtlError("reply from " + where + " too large");
  }
  boost::system::error_code ec;
  auto value = json::parse(reply, ec);
  if (ec || !value.is_object()) throw CtlError("agent sent an unreadable reply on " + where);
  auto& object = value.as_object();
  const auto* ok = object.if_contains("ok");
  if (!ok || !ok->is_bool() || !ok->as_bool()) {
    const auto* error = object.if_contains("error");
    throw CtlError("agent: " + (error && error->is_string() ? std::string(error->as_string()) : std::string("request failed")));
  }
  return std::move(object);
}

AgentProbe probe_agent(const ControlClient& client) {
  AgentProbe probe;
  try {
    probe.status = client.call({{"command", "status"}});
    probe.up = true;
  } catch (const CtlError& e) {
    probe.why_down = e.what();
  }
  return probe;
}

}  // namespace wsteer::cli
