// The agent's side of rebalance frame tracking: the same header arithmetic as the verdict's walker
// (bpf/lib/ws_frame.h), over bytes the agent itself holds. Used for the 101's tail relayed before
// the splice (to seed the verdict) and for held bytes while closing a flow (to find the boundary).
#pragma once

#include "lib/ws_frame.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace wsteer::proxy {

// Advances `st` over `data`. With `stop_at_boundary`, stops where the stream first is at a frame
// boundary (possibly at once) and returns the bytes consumed up to there; otherwise returns `n`.
inline std::size_t advance_frames(wsteer_frame_state& st, const std::uint8_t* data, std::size_t n,
                                  bool stop_at_boundary) {
  std::size_t off = 0;
  while (off < n) {
    if (stop_at_boundary && wsteer_ws_at_boundary(&st)) return off;
    if (st.hdr_len == 0 && st.frame_left) {
      const auto k = static_cast<std::size_t>(std::min<std::uint64_t>(st.frame_left, n - off));
      st.frame_left -= k;
      off += k;
      continue;
    }
    wsteer_ws_header_byte(&st, data[off++]);
  }
  return off;
}

inline std::size_t advance_frames(wsteer_frame_state& st, const char* data, std::size_t n, bool stop_at_boundary) {
  return advance_frames(st, reinterpret_cast<const std::uint8_t*>(data), n, stop_at_boundary);
}

}  // namespace wsteer::proxy
