// The hand-off's messages on the control socket (docs/handoff.md): one JSON object on one line,
// with the descriptors it speaks of attached as SCM_RIGHTS to the same sendmsg(). Both sides take
// turns (each message is answered before the next is sent), so a reader that stops at the line's
// end never reads into the next message. Blocking calls on a socket with send/receive timeouts.
#pragma once

#include "core/unique_fd.h"

#include <boost/json/object.hpp>

#include <chrono>
#include <span>
#include <vector>

namespace wsteer::admin {

// SCM_MAX_FD: the kernel refuses more descriptors in one message.
inline constexpr std::size_t kMaxFdsPerMessage = 250;

struct HandoffMessage {
  boost::json::object body;
  std::vector<UniqueFd> fds;  // in the order the sender listed them
};

// Makes `socket` blocking, with these send and receive timeouts.
// Both below throw std::runtime_error (with errno's text) on a failure, a timeout or a closed peer.
void set_handoff_timeout(int socket, std::chrono::milliseconds timeout);
void send_handoff(int socket, const boost::json::object& body, std::span<const int> fds = {});
HandoffMessage receive_handoff(int socket);

}  // namespace wsteer::admin
