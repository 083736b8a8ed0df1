// Listening sockets a predecessor agent handed over (hand-off, docs/handoff.md), waiting for the
// component that listens on the same address to take them instead of binding: the socket and its
// queue of not-yet-accepted connections carry on, so no client connecting meanwhile is refused.
// Process-wide because the listeners are made deep inside the services; filled before any of them.
#pragma once

#include "core/unique_fd.h"

#include <string>
#include <vector>

namespace wsteer::core {

// Keys say what the socket listens on: "tcp:ADDRESS:PORT" (as tcp_socket_key) or "unix:PATH".
std::string tcp_socket_key(const std::string& address, unsigned short port);
inline std::string unix_socket_key(const std::string& path) { return "unix:" + path; }

void add_inherited_socket(const std::string& key, UniqueFd fd);
// The socket handed over for `key`, once (an empty UniqueFd when there is none).
UniqueFd take_inherited_socket(const std::string& key);
// Drops (closes) the ones nobody took, returning their keys: the new configuration no longer
// listens there.
std::vector<std::string> drop_inherited_sockets();

}  // namespace wsteer::core
