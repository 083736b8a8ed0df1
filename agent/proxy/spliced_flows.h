// Owns every spliced flow after the handshake: one thread runs the flow logic (FlowTable) over one
// epoll set, armed for EPOLLRDHUP only (plus EPOLLIN/EPOLLOUT on a flow while the agent relays
// held bytes or closes it), so data the kernel moves never wakes it. Every public call is safe
// from any thread.
#pragma once

#include "core/unique_fd.h"
#include "metrics/agent_metrics.h"
#include "datapath/splice_datapath.h"
#include "proxy/flow_table.h"
#include "proxy/kernel_flow_ops.h"

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

namespace wsteer::proxy {

class SplicedFlows {
 public:
  // `drain_timeout`: how long a half-close may wait for bytes that do not move at all.
  // `metrics`: where the bytes the agent reads itself (relays, rebalance closes) are counted, in
  // wsteer_userspace_bytes_total (every kStatsPeriod); may be null.
  explicit SplicedFlows(datapath::SpliceDatapath& datapath, metrics::AgentMetrics* metrics = nullptr,
                        std::chrono::milliseconds drain_timeout = std::chrono::seconds(120));
  ~SplicedFlows();  // closes every flow still open
  SplicedFlows(const SplicedFlows&) = delete;
  SplicedFlows& operator=(const SplicedFlows&) = delete;

  // Takes ownership of a flow whose sockets are both spliced.
  void adopt(SplicedFlow flow);
  std::size_t size() const;
  // Counters as of now; bytes in the middle as of the loop's last snapshot (at most
  // kStatsPeriod old), so a scrape makes no syscall per socket.
  SplicedFlowStats stats() const;
  // Ends every flow now (after the shutdown grace period).
  void close_all();

  // Rebalance. Every live flow (its creation time read once from wsteer_flows).
  std::vector<RebalanceCandidate> rebalance_candidates() const;
  // Starts closing a flow with a WebSocket close frame 1012 written at a backend frame boundary
  // (see flow_table_close.cpp). False when the flow is gone, already closing, or untracked.
  bool request_close(std::uint64_t flow_id);
  void set_close_timeout(std::chrono::milliseconds t);
  std::unordered_map<const steering::Steering*, RebalanceCounts> rebalance_counts() const;
  std::size_t closing() const;

  // Hand-off (spliced_flows_handoff.cpp, docs/handoff.md). Gives every quiet flow away whole
  // (FlowTable::release_quiet); the first call also stops reading wsteer_events: the successor
  // reads them now (one ring buffer, one consumer).
  std::vector<SplicedFlow> release_all();
  // The hand-off failed (the successor is gone): read wsteer_events again. Flows given back are
  // adopt()ed again by the caller.
  void cancel_release();
  // The hand-off failed after the other agent had taken flows, or the other agent died: in
  // kOrphanSweepDelay, the map entries of flows that died with it (made before now, owned by no
  // flow here) are removed (SpliceDatapath::sweep_orphans). The delay lets a handshake splicing
  // now join the table first.
  void sweep_orphans_later();
  static constexpr auto kOrphanSweepDelay = std::chrono::seconds(5);

  static constexpr auto kStatsPeriod = std::chrono::milliseconds(250);

 private:
  void run();
  void watch_loop_fd(int fd, std::uint64_t token);
  // Flow tokens are flow_id << 1 | side with ids from 1: these two never collide with one.
  static constexpr std::uint64_t kWakeToken = ~0ULL;
  static constexpr std::uint64_t kEventsToken = ~0ULL - 1;
  void snapshot();  // under mutex_

  datapath::SpliceDatapath& datapath_;
  metrics::AgentMetrics* metrics_;
  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd: stop
  KernelFlowOps ops_;
  mutable std::mutex mutex_;  // guards table_, middle_, stopping_
  FlowTable table_;
  std::uint64_t middle_ = 0;  // bytes in the middle at the last snapshot
  std::chrono::steady_clock::time_point middle_at_{};
  std::uint64_t read_counted_[2] = {0, 0};  // of FlowTable's read bytes, what metrics_ has seen
  bool stopping_ = false;
  bool events_detached_ = false;  // release_all() handed wsteer_events to a successor
  // sweep_orphans_later(): when, and entries made before which CLOCK_MONOTONIC time.
  std::optional<std::chrono::steady_clock::time_point> sweep_at_;
  std::uint64_t sweep_before_ns_ = 0;
  std::thread thread_;
};

}  // namespace wsteer::proxy
