// The logic of spliced flows after the handshake, without a thread or a kernel of its own: every
// socket operation and map access goes through FlowOps. SplicedFlows runs it on a thread over
// epoll; the unit tests run it on a fake.
//
// The kernel moves the bytes; this table only sees each flow begin and end:
//  - a FIN on one side: wait until everything the verdict redirected from it has entered the
//    peer's TCP send path, then shut the peer's write side (half-close, as TCP has it);
//  - both sides finished, or an error/reset on either: remove the pair from the maps, close both;
//  - backpressure: when the verdict holds a socket's bytes because its peer's reader is behind
//    (wsteer_events), relay the held bytes to the peer as fast as the peer takes them, until the
//    verdict hands the flow back to the kernel (flow_table_relay.cpp, see splice.bpf.c);
//  - rebalance: close a flow with a WebSocket close frame 1012 written at a backend frame boundary
//    (request_close, flow_table_close.cpp).
//
// Each flow's state lives in one place, its two Sides. A flow that ends is only marked during a
// pass and destroyed by reap() at the end of it, so no handler ever holds a dangling Flow&.
// Not thread-safe: SplicedFlows serializes every call.
#pragma once

#include "core/unique_fd.h"
#include "datapath/splice_datapath.h"
#include "proxy/connection_counts.h"
#include "proxy/flow_ops.h"
#include "steering/steering.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace wsteer::proxy {

// One flow in the kernel, and everything it holds: both descriptors, its backend's count in
// steering and its place in wsteer_connections_active. Destroying it ends all of them; the
// datapath entries are removed by the table before (proxy/splice_handoff.h makes one).
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
  // hand-off (FlowTable::release_quiet / adopt), 0 for a fresh splice.
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
  // Bytes the agent itself read off spliced sockets since start (held bytes relayed or pending,
  // and what a rebalance close dropped), by the side they came from: [0] client, [1] backend.
  std::uint64_t read_bytes[2] = {0, 0};
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

class FlowTable {
 public:
  // `drain_timeout`: how long a half-close may wait for bytes that do not move at all.
  FlowTable(FlowOps& ops, std::chrono::milliseconds drain_timeout);
  ~FlowTable();  // ends and reaps every flow
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  // Takes ownership of a flow whose sockets are both spliced; its id. A flow handed over by
  // another agent whose bytes the verdict holds resumes relaying them at once (the hold event went
  // to the other agent).
  std::uint64_t adopt(SplicedFlow flow);
  // Hand-off (docs/handoff.md): stops watching every *quiet* flow and gives it away whole, its
  // map entries untouched, for another agent to adopt(). A busy flow (held bytes read into this
  // process, a rebalance close) stays until a later call finds it quiet.
  std::vector<SplicedFlow> release_quiet();
  // What the loop saw: a socket's events (by the token given to FlowOps::watch), a wsteer_events record.
  void on_socket(std::uint64_t token, const SocketEvents& events);
  void on_datapath_event(const wsteer_event& event);
  // One pass over the flows that wait for something (a FIN to propagate, held bytes to relay, a
  // paused sender, a rebalance close), then reap().
  void tick();
  // Destroys the flows that ended: out of the wait set and the maps, both descriptors closed.
  void reap();
  // Whether tick() has work: the loop then polls fast instead of sleeping until an event.
  bool busy() const { return !waiting_.empty(); }
  // Ends every flow now (after the shutdown grace period), reaped at once.
  void end_all();

  std::size_t size() const { return flows_.size() - ended_.size(); }
  // Whether a socket (by cookie) belongs to a flow of this table.
  bool owns(std::uint64_t cookie) const { return by_cookie_.contains(cookie); }
  // Counters, and bytes in the middle: two syscalls per socket, so not for every scrape
  // (SplicedFlows keeps a snapshot).
  SplicedFlowStats stats() const;
  // The same without bytes in the middle: no syscall.
  SplicedFlowStats stats_without_middle() const;

  // Rebalance (flow_table_close.cpp).
  std::vector<RebalanceCandidate> rebalance_candidates() const;
  bool request_close(std::uint64_t flow_id);
  const std::unordered_map<const steering::Steering*, RebalanceCounts>& rebalance_counts() const { return rebalance_counts_; }
  std::size_t closing() const;
  // How long a client has to finish a rebalance close (its reply, the backend's hang-up) before
  // both sides are closed. Set before the first request_close.
  void set_close_timeout(std::chrono::milliseconds t) { close_timeout_ = t; }

  static std::uint64_t token(std::uint64_t flow_id, int side) { return flow_id << 1 | static_cast<std::uint64_t>(side); }

 private:
  struct Side;
  struct Flow;
  struct CloseState;

  Flow* find(std::uint64_t flow_id);
  void end(Flow& flow);
  // Keeps `waiting_` in step with the flow's state; called after anything that changes it.
  void refresh(Flow& flow);
  void update_interest(Side& side);
  // `side`'s send buffer is full (wait for EPOLLOUT) or took bytes again.
  void want_writable(Side& side, bool want);
  // recv() through FlowOps, counted in read_total_.
  ssize_t read(Side& side, char* data, std::size_t size);
  std::uint64_t bytes_in_middle(const Side& from) const;
  // Half-close (flow_table.cpp).
  void on_hangup(Side& side);
  void advance_half_close(Flow& flow);
  void try_half_close(Side& from);
  // Backpressure (flow_table_relay.cpp).
  void on_hold(Side& side);
  void on_pause(Side& side);
  void maybe_resume(Side& side);
  void relay(Side& from);
  bool take_relayed(Side& from, std::size_t n);
  bool relay_done(const Side& from) const;
  // Rebalance (flow_table_close.cpp).
  void advance_close(Flow& flow);
  bool close_find_boundary(Flow& flow);
  void close_abort(Flow& flow, const char* why);

  FlowOps& ops_;
  std::chrono::milliseconds drain_timeout_;
  std::chrono::milliseconds close_timeout_{5000};
  std::unordered_map<std::uint64_t, std::unique_ptr<Flow>> flows_;
  std::unordered_map<std::uint64_t, Side*> by_cookie_;
  std::unordered_set<Flow*> waiting_;  // flows tick() must look at (derived from their Sides by refresh)
  std::vector<Flow*> ended_;           // ended this pass, destroyed by reap()
  std::unordered_map<const steering::Steering*, RebalanceCounts> rebalance_counts_;
  std::uint64_t relayed_total_ = 0;
  std::uint64_t read_total_[2] = {0, 0};  // by side: SplicedFlowStats::read_bytes
  std::uint64_t holds_total_ = 0;
  std::uint64_t next_id_ = 1;
};

}  // namespace wsteer::proxy
