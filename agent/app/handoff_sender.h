// Hand-off, the old agent's side (docs/handoff.md): answers a successor's "takeover" request on
// the control socket. It stops accepting, passes its listening sockets (services, metrics, control
// socket) and lets go of the pin folder's lock; then, in turns the successor acknowledges, every
// quiet spliced flow's two descriptors with what the successor needs to own them; it waits for
// handshakes in progress to splice (bounded by the grace period) and hands those too; finally it
// leaves pins and verdict to the successor and shuts down. If the successor goes away or refuses
// before the end, everything not acknowledged is taken back and this agent keeps serving.
#pragma once

#include "app/xdp_front_door.h"
#include "core/unique_fd.h"
#include "datapath/splice_datapath.h"
#include "proxy/spliced_flows.h"

#include <boost/json/object.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace wsteer::app {

struct HandoffListener {
  std::string key;  // core/inherited_sockets.h
  UniqueFd fd;      // a duplicate, closed once sent
};

struct HandoffSource {
  datapath::SpliceDatapath* datapath = nullptr;  // null: userspace datapath (listeners only)
  proxy::SplicedFlows* spliced = nullptr;
  XdpFrontDoor* xdp = nullptr;                   // null: no XDP guard (a successor with one starts it afresh)
  std::chrono::milliseconds grace{30000};        // how long handshakes and busy flows may take
  // Stops every service's accept loop (sockets stay open) and returns them, with the metrics and
  // control sockets; resume_listeners() undoes it when the hand-off fails.
  std::function<std::vector<HandoffListener>()> pause_listeners;
  std::function<void()> resume_listeners;
  std::function<std::int64_t()> handshaking;  // sessions that may still splice a flow
  // What the successor needs to own a flow: its Service and backend, by name.
  std::function<boost::json::object(const proxy::SplicedFlow&)> describe;
  std::function<void()> control_handed_over;  // the successor answers on the control socket now
  std::function<void()> finished;             // all handed over: shut down (no flows left to drain)
};

class HandoffSender {
 public:
  explicit HandoffSender(HandoffSource source) : source_(std::move(source)) {}
  ~HandoffSender();  // waits for a hand-off in progress
  // For ControlServer::set_stream_handler: runs the hand-off on its own thread (one at a time).
  void start(int socket, const boost::json::object& request);

 private:
  void run(int socket, boost::json::object request);

  HandoffSource source_;
  std::atomic<bool> busy_{false};
  std::thread thread_;
};

// Test hook (crash safety): WSTEER_TEST_HANDOFF_CRASH=<point> makes the named side _exit(99) at
// that point of the hand-off ("sender-after-listeners", "sender-mid-flows", "receiver-mid-flows",
// "receiver-after-first-batch").
void handoff_crash_point(const char* point);
// The same hook, but the named point throws (a clean failure that unwinds): "receiver-after-maps",
// "receiver-after-xdp".
void handoff_fail_point(const char* point);

}  // namespace wsteer::app
