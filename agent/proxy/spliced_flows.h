// Owns the descriptors of every spliced flow after the handshake and watches over them. The
// kernel moves the bytes; this class sees each flow begin and end, and paces it under backpressure:
//  - a FIN on one side: wait until everything the verdict redirected from it has entered the
//    peer's TCP send path, then shut the peer's write side (half-close, as TCP has it);
//  - both sides finished, or an error/reset on either: remove the pair from the maps, close both;
//  - backpressure (bpf/lib/backpressure.h): while a peer is over its limit the verdict holds the
//    sender's bytes on the sender's own socket (its window closes); once the peer has caught up,
//    this class moves the held bytes over, and the verdict takes over again.
// One thread and one epoll set armed for EPOLLRDHUP (and the events ring), so flowing data never
// wakes it.
#pragma once

#include "core/unique_fd.h"
#include "datapath/splice_datapath.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

struct ring_buffer;

namespace wsteer::proxy {

struct SplicedFlow {
  UniqueFd client;
  UniqueFd backend;
  datapath::FlowSockets sockets;  // fds and cookies as inserted in the maps
  std::uint32_t backend_id = 0;
  // tcp_bytes_written() of each socket after the agent's own last write, before the verdict ran:
  // what the socket's send path holds beyond this came from the verdict.
  std::uint64_t client_written_base = 0;
  std::uint64_t backend_written_base = 0;
};

struct SplicedFlowStats {
  std::size_t flows = 0;
  std::size_t holding_sockets = 0;    // sockets whose bytes the verdict holds (peer over limit)
  std::uint64_t bytes_in_middle = 0;  // redirected but not yet acknowledged by the receivers
  std::uint64_t holds_total = 0;
  std::uint64_t held_bytes_moved = 0;  // held bytes the agent moved to their peer (userspace)
};

class SplicedFlows {
 public:
  using ClosedHandler = std::function<void(std::uint32_t backend_id)>;

  // `flow_limit`: bytes one direction of a flow may hold in the middle (0: no backpressure).
  SplicedFlows(datapath::SpliceDatapath& datapath, ClosedHandler on_closed, std::uint32_t flow_limit,
               std::chrono::milliseconds drain_timeout = std::chrono::seconds(120));
  ~SplicedFlows();  // closes every flow still open
  SplicedFlows(const SplicedFlows&) = delete;
  SplicedFlows& operator=(const SplicedFlows&) = delete;

  std::uint32_t flow_limit() const { return flow_limit_; }
  // Takes ownership of a flow whose sockets are both spliced.
  void adopt(SplicedFlow flow);
  std::size_t size() const;
  SplicedFlowStats stats() const;
  // Ends every flow now (after the shutdown grace period).
  void close_all();

 private:
  struct Side;
  struct Flow;

  void run();
  void on_event(std::uint64_t flow_id, int side, std::uint32_t events);
  void on_hold(std::uint64_t cookie);
  void advance_half_closes();
  void try_half_close(Flow& flow, int side);
  void advance_holding();
  bool move_held(Flow& flow, int from);
  std::uint64_t bytes_in_middle(const Flow& flow, int from) const;
  void finish_locked(std::uint64_t flow_id);

  datapath::SpliceDatapath& datapath_;
  ClosedHandler on_closed_;
  std::uint32_t flow_limit_;
  std::chrono::milliseconds drain_timeout_;
  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd: stop
  ring_buffer* events_ = nullptr;
  mutable std::mutex mutex_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Flow>> flows_;
  std::unordered_map<std::uint64_t, std::pair<std::uint64_t, int>> by_cookie_;  // cookie -> flow, side
  std::unordered_set<std::uint64_t> half_closing_;  // flows with a FIN not yet propagated
  std::unordered_set<std::uint64_t> holding_;       // cookies of sockets with held bytes
  std::uint64_t holds_total_ = 0;
  std::uint64_t held_bytes_moved_ = 0;
  std::uint64_t next_id_ = 1;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace wsteer::proxy
