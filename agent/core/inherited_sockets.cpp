#include "core/inherited_sockets.h"

#include <map>
#include <mutex>

namespace wsteer::core {
namespace {

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}

std::map<std::string, UniqueFd>& registry() {
  static std::map<std::string, UniqueFd> sockets;
  return sockets;
}

}  // namespace

std::string tcp_socket_key(const std::string& address, unsigned short port) {
  // IPv6 in brackets so the port stays unambiguous.
  const bool v6 = address.find(':') != std::string::npos;
  return "tcp:" + (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

void add_inherited_socket(const std::string& key, UniqueFd fd) {
  std::lock_guard lock(registry_mutex());
  registry()[key] = std::move(fd);
}

UniqueFd take_inherited_socket(const std::string& key) {
  std::lock_guard lock(registry_mutex());
  auto it = registry().find(key);
  if (it == registry().end()) return {};
  UniqueFd fd = std::move(it->second);
  registry().erase(it);
  return fd;
}

std::vector<std::string> drop_inherited_sockets() {
  std::lock_guard lock(registry_mutex());
  std::vector<std::string> keys;
  for (const auto& [key, fd] : registry()) keys.push_back(key);
  registry().clear();
  return keys;
}

}  // namespace wsteer::core
