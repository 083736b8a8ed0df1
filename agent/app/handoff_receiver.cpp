#include "app/handoff_receiver.h"

#include "admin/handoff_wire.h"
#include "app/handoff_sender.h"
#include "core/inherited_sockets.h"
#include "datapath/splice_datapath.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <stdexcept>

namespace wsteer::app {
namespace json = boost::json;

std::unique_ptr<HandoffReceiver> HandoffReceiver::connect(const std::filesystem::path& control_socket, bool xdp) {
  UniqueFd socket(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = control_socket.string();
  if (path.size() >= sizeof(addr.sun_path)) throw std::runtime_error("control socket path too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (!socket) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  if (::connect(socket.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    // No file, or a file left by a dead agent: nobody to take over from.
    if (errno == ENOENT || errno == ECONNREFUSED) {
      spdlog::info("--takeover: no agent answers on {} ({}): starting fresh", path, std::strerror(errno));
      return nullptr;
    }
    throw std::runtime_error("--takeover: connect to " + path + ": " + std::strerror(errno));
  }
  return std::make_unique<HandoffReceiver>(std::move(socket), xdp);
}

HandoffReceiver::HandoffReceiver(UniqueFd connected, bool xdp) : socket_(std::move(connected)) {
  admin::set_handoff_timeout(socket_.get(), std::chrono::seconds(10));
  admin::send_handoff(socket_.get(), {{"command", "takeover"}, {"abi", datapath::SpliceDatapath::abi_version()}, {"xdp", xdp}});
  auto reply = admin::receive_handoff(socket_.get());
  const auto* ok = reply.body.if_contains("ok");
  if (!ok || !ok->is_bool() || !ok->as_bool()) {
    const auto* error = reply.body.if_contains("error");
    throw std::runtime_error("--takeover refused by the running agent: " +
                             (error && error->is_string() ? std::string(error->as_string()) : "no reason given"));
  }
  const auto* listeners = reply.body.if_contains("listeners");
  if (!listeners || !listeners->is_array() || listeners->as_array().size() != reply.fds.size())
    throw std::runtime_error("--takeover: malformed answer (listeners and descriptors do not match)");
  for (std::size_t i = 0; i < reply.fds.size(); ++i) {
    const auto& key = listeners->as_array()[i];
    if (!key.is_string()) throw std::runtime_error("--takeover: malformed listener key");
    core::add_inherited_socket(std::string(key.as_string()), std::move(reply.fds[i]));
  }
  if (const auto* pid = reply.body.if_contains("pid"); pid && pid->is_number()) old_pid_ = pid->to_number<int>();
  if (const auto* x = reply.body.if_contains("xdp"); x && x->is_bool()) xdp_handed_over_ = x->as_bool();
  spdlog::info("taking over from agent pid {}: {} listening sockets received", old_pid_, reply.fds.size());
}

void HandoffReceiver::refuse(const std::string& why) {
  try {
    admin::send_handoff(socket_.get(), {{"ok", false}, {"error", why}});
  } catch (const std::exception&) {
  }
}

void HandoffReceiver::receive_flows(const Adopt& adopt) {
  admin::send_handoff(socket_.get(), {{"ok", true}});  // the maps are adopted, the listeners ours
  // The old agent waits for handshakes in progress (its grace period) between batches.
  admin::set_handoff_timeout(socket_.get(), std::chrono::seconds(120));
  for (;;) {
    auto message = admin::receive_handoff(socket_.get());
    if (message.body.contains("done")) {
      admin::send_handoff(socket_.get(), {{"ok", true}});
      spdlog::info("hand-off done: {} flows adopted from agent pid {}", adopted_.load(), old_pid_);
      return;
    }
    if (adopted_ > 0) handoff_crash_point("receiver-after-first-batch");  // owning the first batch's flows
    const auto* flows = message.body.if_contains("flows");
    if (!flows || !flows->is_array() || flows->as_array().size() * 2 != message.fds.size())
      throw std::runtime_error("hand-off: malformed batch (flows and descriptors do not match)");
    std::size_t i = 0;
    for (const auto& meta : flows->as_array()) {
      // Adopted one by one: a flow whose metadata is unusable is closed (its descriptors drop here);
      // the others go on.
      try {
        adopt(meta.as_object(), std::move(message.fds[2 * i]), std::move(message.fds[2 * i + 1]));
        ++adopted_;
      } catch (const std::exception& e) {
        spdlog::warn("hand-off: flow {} not adopted: {}", i, e.what());
      }
      ++i;
    }
    handoff_crash_point("receiver-mid-flows");
    admin::send_handoff(socket_.get(), {{"ok", true}, {"adopted", i}});
  }
}

}  // namespace wsteer::app
