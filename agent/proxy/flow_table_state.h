// FlowTable's per-flow state, shared by its translation units (flow_table.cpp: life and half-close,
// flow_table_relay.cpp: backpressure, flow_table_close.cpp: rebalance closes). A flow's state is
// its two Sides and nothing else; descriptors, cookies and byte bases are read from the
// SplicedFlow it owns.
#pragma once

#include "proxy/flow_table.h"

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

namespace wsteer::proxy {
namespace flows_detail {

inline constexpr int kClient = 0;
inline constexpr int kBackend = 1;
// One recv() of held bytes; the peer's send buffer is the real buffer.
inline constexpr std::size_t kRelayChunk = 256 * 1024;

inline const char* side_name(int side) { return side == kClient ? "client" : "backend"; }
// A FlowOps send/recv result that means "try again later".
inline bool would_block(ssize_t n) { return n == -EAGAIN || n == -EWOULDBLOCK || n == -EINTR; }

}  // namespace flows_detail

struct FlowTable::Side {
  Side(Flow& f, int i) : flow(f), index(i) {}
  Flow& flow;
  const int index;  // kClient or kBackend

  int fd() const;
  std::uint64_t cookie() const;
  std::uint64_t written_base() const;  // this socket's bytes written before the verdict ran
  Side& peer() const;

  // Half-close: the peer behind this socket sent its FIN; its bytes must reach the other side first.
  bool eof = false;
  bool write_shut = false;  // we shut this socket's write side (propagated the other's FIN)
  std::chrono::steady_clock::time_point drain_deadline{};
  std::uint64_t last_progress = 0;
  std::uint64_t last_redirected = ~0ULL;
  // Backpressure: the verdict holds this socket's bytes; the agent relays them to the peer.
  bool paused = false;    // SO_RCVLOWAT raised: TCP keeps new bytes in the receive queue
  bool relaying = false;
  std::uint64_t relayed = 0;      // held bytes written to the peer (mirrored in wsteer_flow_ctl)
  std::vector<char> pending;      // read from this socket, not yet written to the peer
  std::size_t pending_off = 0;
  std::size_t relay_read = flows_detail::kRelayChunk;  // one peek of this size sees all a full receive buffer holds
  bool want_out = false;          // this socket's send buffer is full of relayed bytes: wait for EPOLLOUT
  // Rebalance (backend side): the verdict holds everything for the agent's close.
  bool closing = false;
  std::uint64_t discarded = 0;    // held bytes read and dropped (after the close frame's boundary)

  bool has_pending() const { return pending_off < pending.size(); }
  // Its FIN still has to reach the other side.
  bool fin_pending() const { return eof && !peer().write_shut; }
};

// A rebalance close in progress (flow_table_close.cpp).
struct FlowTable::CloseState {
  std::chrono::steady_clock::time_point requested;
  std::chrono::steady_clock::time_point deadline;  // the client must have finished the close by then
  bool base_known = false;
  std::uint64_t base = 0;       // position in the held stream where the close hold began
  wsteer_frame_state frames{};  // the verdict's frame state at `base`, advanced by the agent from there
  bool bounded = false;
  std::uint64_t limit = 0;      // held bytes before the frame boundary: relayed, the rest dropped
  std::uint64_t read = 0;       // held bytes read off the backend socket (relayed, pending, dropped)
  std::size_t frame_off = 0;    // bytes of the close frame written
  bool frame_sent = false;
};

struct FlowTable::Flow {
  Flow(std::uint64_t flow_id, SplicedFlow flow) : id(flow_id), owned(std::move(flow)) {}
  const std::uint64_t id;
  SplicedFlow owned;
  std::array<Side, 2> sides{Side{*this, flows_detail::kClient}, Side{*this, flows_detail::kBackend}};
  std::uint64_t created_ns = 0;   // wsteer_flows.created_ns, read once at adopt
  bool untracked = false;         // rebalance: its frame walk gave up, never close it
  std::optional<CloseState> close;
  bool ended = false;             // reap() destroys it at the end of the pass

  Side& client() { return sides[flows_detail::kClient]; }
  Side& backend() { return sides[flows_detail::kBackend]; }
  // tick() has something to do for it.
  bool waiting() const {
    if (ended) return false;
    if (close) return true;
    for (const Side& s : sides)
      if (s.relaying || s.paused || s.fin_pending()) return true;
    return sides[0].eof && sides[1].eof;  // both finished: it ends
  }
};

inline int FlowTable::Side::fd() const {
  return index == flows_detail::kClient ? flow.owned.sockets.client_fd : flow.owned.sockets.backend_fd;
}
inline std::uint64_t FlowTable::Side::cookie() const {
  return index == flows_detail::kClient ? flow.owned.sockets.client_cookie : flow.owned.sockets.backend_cookie;
}
inline std::uint64_t FlowTable::Side::written_base() const {
  return index == flows_detail::kClient ? flow.owned.client_written_base : flow.owned.backend_written_base;
}
inline FlowTable::Side& FlowTable::Side::peer() const { return flow.sides[1 - index]; }

}  // namespace wsteer::proxy
