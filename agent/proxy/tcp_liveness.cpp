#include "proxy/tcp_liveness.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace wsteer::proxy {
namespace {

void set_int(int fd, int level, int name, int value, const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof(value)) != 0)
    spdlog::debug("setsockopt {}={}: {}", what, value, std::strerror(errno));
}

}  // namespace

void apply_tcp_liveness(int fd, const ProxyConfig& cfg) {
  if (cfg.tcp_keepalive_idle.count() > 0) {
    set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE");
    set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, static_cast<int>(cfg.tcp_keepalive_idle.count()), "TCP_KEEPIDLE");
    set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, static_cast<int>(cfg.tcp_keepalive_interval.count()), "TCP_KEEPINTVL");
    set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, static_cast<int>(cfg.tcp_keepalive_count), "TCP_KEEPCNT");
  }
  if (cfg.tcp_user_timeout.count() > 0)
    set_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, static_cast<int>(cfg.tcp_user_timeout.count()), "TCP_USER_TIMEOUT");
}

}  // namespace wsteer::proxy
