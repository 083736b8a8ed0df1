// wsteerctl's side of the agent's control socket (admin/control_protocol.h): one JSON request per
// connection, with a deadline so a stopped (SIGSTOP) or hung agent cannot hang wsteerctl.
#pragma once

#include <boost/json/object.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

namespace wsteer::cli {

class ControlClient {
 public:
  ControlClient(std::filesystem::path path, std::chrono::milliseconds timeout);

  // Sends `request`, returns the agent's reply with "ok": true. Throws CtlError with a clear
  // message: no socket (agent not running), permission denied (root only), stale socket, no
  // answer within the timeout, or the agent's own error.
  boost::json::object call(const boost::json::object& request) const;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::chrono::milliseconds timeout_;
};

// The agent as read-only commands report it: its status reply when it answered, else why not.
struct AgentProbe {
  bool up = false;
  std::optional<boost::json::object> status;  // the "status" reply when up
  std::string why_down;                       // when not up
};
AgentProbe probe_agent(const ControlClient& client);

}  // namespace wsteer::cli
