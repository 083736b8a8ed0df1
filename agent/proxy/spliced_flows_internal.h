// SplicedFlows' private state, shared by its translation units (spliced_flows.cpp for hang-ups and
// backpressure, spliced_flows_close.cpp for rebalance closes).
#pragma once

#include "proxy/spliced_flows.h"

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

namespace wsteer::proxy {
namespace flows_detail {

inline constexpr int kClient = 0;
inline constexpr int kBackend = 1;
inline constexpr std::uint64_t kWakeToken = ~0ULL;
inline constexpr std::uint64_t kEventsToken = ~0ULL - 1;
// One recv() of held bytes; the peer's send buffer is the real buffer.
inline constexpr std::size_t kRelayChunk = 256 * 1024;

inline std::uint64_t token(std::uint64_t flow_id, int side) { return flow_id << 1 | static_cast<std::uint64_t>(side); }

}  // namespace flows_detail

struct SplicedFlows::Side {
  int fd = -1;
  std::uint64_t cookie = 0;
  std::uint64_t written_base = 0;
  bool eof = false;         // the peer behind this socket sent its FIN
  bool write_shut = false;  // we shut this socket's write side (propagated the other's FIN)
  // Backpressure: the verdict holds this socket's bytes; the agent relays them to the peer.
  bool paused = false;    // SO_RCVLOWAT raised: TCP keeps new bytes in the receive queue
  bool relaying = false;
  std::uint64_t relayed = 0;      // held bytes written to the peer (mirrored in wsteer_flow_ctl)
  std::vector<char> pending;      // read from this socket, not yet written to the peer
  std::size_t pending_off = 0;
  bool want_out = false;          // this socket's send buffer is full of relayed bytes: wait for EPOLLOUT
  // Rebalance (backend side): the verdict holds everything for the agent's close.
  bool closing = false;
  std::uint64_t discarded = 0;    // held bytes read and dropped (after the close frame's boundary)
};

// A rebalance close in progress (spliced_flows_close.cpp).
struct SplicedFlows::CloseState {
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

struct SplicedFlows::Flow {
  SplicedFlow owned;
  std::array<Side, 2> sides;
  // Half-close in progress for a side that hit EOF: its bytes must reach the peer first.
  std::array<std::chrono::steady_clock::time_point, 2> drain_deadline{};
  std::array<std::uint64_t, 2> last_progress{};
  std::array<std::uint64_t, 2> last_redirected{~0ULL, ~0ULL};
  std::uint64_t created_ns = 0;   // wsteer_flows.created_ns, read once at adopt
  bool untracked = false;         // rebalance: its frame walk gave up, never close it
  std::optional<CloseState> close;
};


}  // namespace wsteer::proxy
