// Owns the descriptors of every spliced flow after the handshake and watches them for hang-ups.
// The kernel moves the bytes; this class only sees each flow begin and end:
//  - a FIN on one side: wait until everything the verdict redirected from it has entered the
//    peer's TCP send path, then shut the peer's write side (half-close, as TCP has it);
//  - both sides finished, or an error/reset on either: remove the pair from the maps, close both;
//  - backpressure: when the verdict holds a socket's bytes because its peer's reader is behind
//    (wsteer_events), relay the held bytes to the peer as fast as the peer takes them, until the
//    verdict hands the flow back to the kernel (see splice.bpf.c);
//  - rebalance: close a flow with a WebSocket close frame 1012 written at a backend frame boundary
//    (request_close, spliced_flows_close.cpp).
// One thread, one epoll set armed for EPOLLRDHUP only (plus EPOLLIN/EPOLLOUT on a flow while it
// relays held bytes), so data the kernel moves never wakes it.
#pragma once

#include "core/unique_fd.h"
#include "proxy/connection_counts.h"
#include "datapath/splice_datapath.h"
#include "steering/steering.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace wsteer::proxy {

// One flow in the kernel, and everything it holds: both descriptors, its backend's count in
// steering and its place in wsteer_connections_active. Destroying it ends all of them; the
// datapath entries are removed by SplicedFlows before (proxy/splice_handoff.h makes one).
struct SplicedFlow {
  BackendLease lease;       // steering's count of the connection: the backend id, the Service
  ActiveConnection active;  // wsteer_connections_active
  UniqueFd client;
  UniqueFd backend;
  datapath::FlowSockets sockets;  // fds and cookies as inserted in the maps
  // tcp_bytes_written() of each socket after the agent's own last write, before the verdict ran:
  // what the socket's send path holds beyond this came from the verdict.
  std::uint64_t client_written_base = 0;
  std::uint64_t backend_written_base = 0;
  // Held bytes of each socket the agent has relayed to its peer (backpressure): carried across a
  // hand-off (release_all / adopt), 0 for a fresh splice.
  std::uint64_t client_relayed = 0;
  std::uint64_t backend_relayed = 0;
};

struct SplicedFlowStats {
  std::size_t flows = 0;
  // Redirected but not yet acknowledged by the receivers: the kernel memory held in the middle
  // (psock backlogs, send queues, in flight), bounded per flow by the splice buffer limit.
  std::uint64_t bytes_in_middle = 0;
  std::size_t flows_holding = 0;       // flow directions whose sender is paused or held back (backpressure)
  std::uint64_t relayed_bytes = 0;     // held bytes the agent relayed, since start
  std::uint64_t holds = 0;             // hold episodes that reached the agent, since start
};

// A flow as the rebalance policy sees it (rebalance_candidates()).
struct RebalanceCandidate {
  std::uint64_t flow_id = 0;
  std::uint32_t backend_id = 0;
  const steering::Steering* steering = nullptr;  // its Service
  std::uint64_t created_ns = 0;                  // wsteer_flows.created_ns
  bool closing = false;
  bool closable = true;
};

// Rebalance closes per Service (by its steering), since start.
struct RebalanceCounts {
  std::uint64_t closed = 0;     // close frames 1012 written to the client
  std::uint64_t timed_out = 0;  // of those, clients that did not finish the close in time: both sides closed
  std::uint64_t aborted = 0;    // closes that could not write a close frame (peer gone, frames untracked)
};

class SplicedFlows {
 public:
  // `drain_timeout`: how long a half-close may wait for bytes that do not move at all.
  explicit SplicedFlows(datapath::SpliceDatapath& datapath,
                        std::chrono::milliseconds drain_timeout = std::chrono::seconds(120));
  ~SplicedFlows();  // closes every flow still open
  SplicedFlows(const SplicedFlows&) = delete;
  SplicedFlows& operator=(const SplicedFlows&) = delete;

  // Takes ownership of a flow whose sockets are both spliced.
  void adopt(SplicedFlow flow);
  std::size_t size() const;
  SplicedFlowStats stats() const;
  // Ends every flow now (after the shutdown grace period).
  void close_all();

  // Rebalance. Every live flow (its creation time read once from wsteer_flows).
  std::vector<RebalanceCandidate> rebalance_candidates() const;
  // Starts closing a flow with a WebSocket close frame 1012 written at a backend frame boundary
  // (see spliced_flows_close.cpp). False when the flow is gone, already closing, or untracked.
  bool request_close(std::uint64_t flow_id);
  std::unordered_map<const steering::Steering*, RebalanceCounts> rebalance_counts() const;
  std::size_t closing() const;
  // How long a client has to finish the close (its reply, the backend's hang-up) before both
  // sides are closed. Set before the first request_close.
  void set_close_timeout(std::chrono::milliseconds t) { close_timeout_ = t; }

  // Hand-off (spliced_flows_handoff.cpp). Stops watching every *quiet* flow and returns it whole,
  // its map entries untouched, for another agent to adopt(); a busy flow (held bytes in
  // userspace, a rebalance close) stays until a later call finds it quiet. The first call also
  // stops reading wsteer_events: the successor reads them now (one ring buffer, one consumer).
  // adopt() of a handed-over flow resumes relaying if the verdict is holding its bytes.
  std::vector<SplicedFlow> release_all();
  // The hand-off failed (the successor is gone): read wsteer_events again. Flows given back are
  // adopt()ed again by the caller.
  void cancel_release();

 private:
  struct Side;
  struct Flow;
  struct CloseState;

  void run();
  void on_event(std::uint64_t flow_id, int side, std::uint32_t events);
  void advance_half_closes();
  void try_half_close(Flow& flow, int side);
  std::uint64_t bytes_in_middle(const Flow& flow, int from) const;
  void finish_locked(std::uint64_t flow_id);
  void on_hold_event(std::uint64_t cookie);
  void on_pause_event(std::uint64_t cookie);
  void maybe_resume(std::uint64_t flow_id, int side);
  void relay(std::uint64_t flow_id, int from);
  void update_interest(Flow& flow, std::uint64_t flow_id, int side);
  bool relay_done(const Flow& flow, int from) const;
  // Rebalance (spliced_flows_close.cpp).
  void advance_close(std::uint64_t flow_id);
  bool close_find_boundary(Flow& flow);
  void close_abort(std::uint64_t flow_id, const char* why);
  // Hand-off (spliced_flows_handoff.cpp): after adopt(), picks up a flow's held bytes.
  void resume_adopted(std::uint64_t flow_id);

  datapath::SpliceDatapath& datapath_;
  std::chrono::milliseconds drain_timeout_;
  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd: stop
  mutable std::mutex mutex_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Flow>> flows_;
  std::unordered_map<std::uint64_t, std::pair<std::uint64_t, int>> by_cookie_;  // cookie -> flow, side
  std::unordered_set<std::uint64_t> half_closing_;  // flows with a FIN not yet propagated
  std::unordered_set<std::uint64_t> relaying_;      // token(flow, side) of senders being relayed
  std::unordered_set<std::uint64_t> paused_;        // token(flow, side) of senders paused (SO_RCVLOWAT)
  std::unordered_set<std::uint64_t> closing_;       // flows being closed by rebalance
  std::unordered_map<const steering::Steering*, RebalanceCounts> rebalance_counts_;
  std::chrono::milliseconds close_timeout_{5000};
  std::uint64_t relayed_total_ = 0;
  std::uint64_t holds_total_ = 0;
  std::uint64_t next_id_ = 1;
  bool stopping_ = false;
  bool events_detached_ = false;  // release_all() handed wsteer_events to a successor
  std::thread thread_;
};

}  // namespace wsteer::proxy
