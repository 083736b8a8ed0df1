// Hand-off, the new agent's side (wsteer-agent --takeover, docs/handoff.md). Construction asks the
// agent answering on the control socket to hand over and receives its listening sockets (into
// core/inherited_sockets.h, where the listeners, the metrics server and the control server take
// them). Once this agent has adopted the maps and listens, receive_flows() acknowledges and adopts
// the flows batch by batch until the old agent says it is done.
#pragma once

#include "core/unique_fd.h"

#include <boost/json/object.hpp>

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace wsteer::app {

class HandoffReceiver {
 public:
  // Null when no agent listens on the control socket (nothing to take over: a fresh start, e.g.
  // the first pod on a node). Throws std::runtime_error with the old agent's reason when it
  // refuses (e.g. another map layout version) or the exchange fails.
  // `xdp`: this agent runs the XDP guard (the old agent then hands its guard over too).
  static std::unique_ptr<HandoffReceiver> connect(const std::filesystem::path& control_socket, bool xdp);
  HandoffReceiver(UniqueFd connected, bool xdp);

  // Takes one flow: its metadata (describe_flow) and both descriptors. Throws if it cannot.
  using Adopt = std::function<void(const boost::json::object& meta, UniqueFd client, UniqueFd backend)>;
  // Blocking. Acknowledges the listeners (this agent serves on them now), then adopts every
  // batch. Throws when the exchange fails; flows adopted until then stay adopted.
  void receive_flows(const Adopt& adopt);
  // The first message could not be acted on (e.g. the maps could not be adopted): tell the old
  // agent, which then keeps serving.
  void refuse(const std::string& why);

  std::size_t adopted() const { return adopted_.load(); }
  int old_pid() const { return old_pid_; }
  // The old agent hands its XDP guard over (it let go of the guard's lock): adopt its maps and links.
  bool xdp_handed_over() const { return xdp_handed_over_; }

 private:
  UniqueFd socket_;
  int old_pid_ = 0;
  bool xdp_handed_over_ = false;
  std::atomic<std::size_t> adopted_{0};
};

}  // namespace wsteer::app
