#include "app/handoff_sender.h"

#include "admin/handoff_wire.h"

#include <boost/json/array.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace wsteer::app {
namespace json = boost::json;

namespace {

// Descriptors per message: two per flow, well below SCM_MAX_FD.
constexpr std::size_t kFlowsPerBatch = 100;
// The successor loads its endpoints before it adopts the first batch: give it time.
constexpr auto kAckTimeout = std::chrono::seconds(30);

void expect_ack(int socket, const char* after) {
  const auto reply = admin::receive_handoff(socket);
  const auto* ok = reply.body.if_contains("ok");
  if (!ok || !ok->is_bool() || !ok->as_bool()) {
    const auto* error = reply.body.if_contains("error");
    throw std::runtime_error(std::string("the successor refused ") + after + ": " +
                             (error && error->is_string() ? std::string(error->as_string()) : "no reason given"));
  }
}

}  // namespace

void handoff_crash_point(const char* point) {
  const char* crash = std::getenv("WSTEER_TEST_HANDOFF_CRASH");
  if (crash && std::strcmp(crash, point) == 0) {
    spdlog::warn("test hook: crashing at hand-off point {}", point);
    ::_exit(99);
  }
}

void handoff_fail_point(const char* point) {
  const char* fail = std::getenv("WSTEER_TEST_HANDOFF_CRASH");
  if (fail && std::strcmp(fail, point) == 0) throw std::runtime_error(std::string("test hook: failing at ") + point);
}

HandoffSender::~HandoffSender() {
  if (thread_.joinable()) thread_.join();
}

void HandoffSender::start(int socket, const json::object& request) {
  if (busy_.exchange(true)) {
    admin::set_handoff_timeout(socket, std::chrono::seconds(1));
    try {
      admin::send_handoff(socket, {{"ok", false}, {"error", "a hand-off is already in progress"}});
    } catch (const std::exception&) {
    }
    ::close(socket);
    return;
  }
  if (thread_.joinable()) thread_.join();  // an earlier, failed hand-off
  thread_ = std::thread([this, socket, request] { run(socket, request); });
}

void HandoffSender::run(int socket_fd, json::object request) {
  UniqueFd socket(socket_fd);
  admin::set_handoff_timeout(socket.get(), std::chrono::seconds(5));
  const auto* abi = request.if_contains("abi");
  const std::uint32_t ours = datapath::SpliceDatapath::abi_version();
  if (!abi || !abi->is_number() || abi->to_number<std::uint32_t>() != ours) {
    const std::string theirs = abi && abi->is_number() ? std::to_string(abi->to_number<std::uint32_t>()) : "none";
    const std::string why = "map layout version mismatch: this agent has " + std::to_string(ours) +
                            ", the successor " + theirs + "; upgrade by draining instead (this agent keeps serving)";
    spdlog::warn("takeover refused: {}", why);
    try {
      admin::send_handoff(socket.get(), {{"ok", false}, {"error", why}});
    } catch (const std::exception&) {
    }
    busy_ = false;
    return;
  }

  // The XDP guard goes with the rest when the successor runs one too; otherwise ours stays until
  // we exit (and detaches then).
  const auto* wants_xdp = request.if_contains("xdp");
  XdpFrontDoor* const xdp = source_.xdp && wants_xdp && wants_xdp->is_bool() && wants_xdp->as_bool() ? source_.xdp : nullptr;
  spdlog::info("takeover requested: handing over listeners{} and flows", xdp ? ", the XDP guard" : "");
  auto& flows = source_.spliced;
  std::vector<proxy::SplicedFlow> unacked;  // sent, not acknowledged: ours again if it fails
  std::size_t handed = 0;
  const auto listeners = source_.pause_listeners();
  try {
    if (source_.datapath) source_.datapath->release_lock();
    if (xdp) xdp->release_lock();
    json::array keys;
    std::vector<int> fds;
    for (const auto& l : listeners) {
      keys.push_back(json::value(l.key));
      fds.push_back(l.fd.get());
    }
    admin::send_handoff(socket.get(),
                        {{"ok", true}, {"abi", ours}, {"pid", ::getpid()}, {"xdp", xdp != nullptr}, {"listeners", std::move(keys)}},
                        fds);
    handoff_crash_point("sender-after-listeners");
    admin::set_handoff_timeout(socket.get(), kAckTimeout);
    expect_ack(socket.get(), "the listeners and maps");  // it adopted the maps and listens

    const auto deadline = std::chrono::steady_clock::now() + source_.grace;
    for (;;) {
      std::vector<proxy::SplicedFlow> ready = flows ? flows->release_all() : std::vector<proxy::SplicedFlow>{};
      while (!ready.empty()) {
        const std::size_t n = std::min(ready.size(), kFlowsPerBatch);
        json::array batch;
        std::vector<int> batch_fds;
        for (std::size_t i = 0; i < n; ++i) {
          batch.push_back(source_.describe(ready[i]));
          batch_fds.push_back(ready[i].client.get());
          batch_fds.push_back(ready[i].backend.get());
        }
        // Until acknowledged, all of this round is ours to take back if the hand-off fails.
        unacked = std::move(ready);
        ready.clear();
        admin::send_handoff(socket.get(), {{"flows", std::move(batch)}}, batch_fds);
        if (handed > 0) handoff_crash_point("sender-mid-flows");
        expect_ack(socket.get(), "a batch of flows");
        handed += n;
        // Their clients count in the successor's XDP connection counts now.
        if (xdp)
          for (std::size_t i = 0; i < n; ++i) xdp->conns()->forget(unacked[i].sockets.client_cookie);
        // Acknowledged: the successor owns the first n. Destroying ours closes only our
        // descriptors (the sockets and their map entries live on in the successor) and ends our
        // own counts (steering, gauge).
        ready.assign(std::make_move_iterator(unacked.begin() + static_cast<std::ptrdiff_t>(n)),
                     std::make_move_iterator(unacked.end()));
        unacked.clear();
      }
      const bool idle = (!flows || flows->size() == 0) && source_.handshaking() == 0;
      if (idle || std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const std::size_t left = flows ? flows->size() : 0;
    if (xdp) xdp->stop_counting();  // the successor makes the counts exact once it is done
    admin::send_handoff(socket.get(), {{"done", true}, {"flows", handed}, {"left", left}});
    expect_ack(socket.get(), "the end of the hand-off");
  } catch (const std::exception& e) {
    spdlog::error("hand-off failed after {} flows: {}; taking back the rest and serving on", handed, e.what());
    if (flows) {
      flows->cancel_release();
      for (auto& f : unacked) flows->adopt(std::move(f));
      // Flows the successor had taken die with it, if it dies: their map entries go in a moment.
      if (handed > 0) flows->sweep_orphans_later();
    }
    if (source_.datapath) {
      try {
        source_.datapath->reattach_verdict();
      } catch (const std::exception& ve) {
        spdlog::error("cannot attach the verdict again: {}", ve.what());
      }
      try {
        source_.datapath->relock();
      } catch (const std::exception& le) {
        spdlog::error("cannot take the pin folder's lock back: {}", le.what());
      }
    }
    if (xdp) {
      try {
        xdp->reclaim();
      } catch (const std::exception& xe) {
        spdlog::error("cannot take the XDP guard back: {}", xe.what());
      }
    }
    source_.resume_listeners();
    busy_ = false;
    // After everything above: whoever waits for this line (an operator, a test) finds the old
    // agent whole again, its verdict, pin lock, XDP links and listeners back.
    spdlog::info("hand-off abandoned: serving on as before it");
    return;
  }
  spdlog::info("hand-off done: {} flows handed over, {} left to close", handed, flows ? flows->size() : 0);
  if (source_.datapath) source_.datapath->hand_over();
  if (xdp) xdp->hand_over();
  source_.control_handed_over();
  source_.finished();
}

}  // namespace wsteer::app
