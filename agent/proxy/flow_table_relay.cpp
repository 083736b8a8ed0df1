// Backpressure: what the agent does when the verdict holds a sender back because its peer's reader
// is behind (see splice.bpf.c and docs/kernel-notes.md).
#include "proxy/flow_table.h"
#include "proxy/flow_table_state.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

namespace wsteer::proxy {
using namespace flows_detail;

// The verdict started holding the bytes of `s`: its peer's reader is behind.
void FlowTable::on_hold(Side& s) {
  if (s.closing) return;  // a hold from before the close: the close relays now
  ++holds_total_;
  // Every byte must now reach the verdict (to be held and relayed): a raised SO_RCVLOWAT would
  // keep a sender's last bytes in the TCP queue, where recv() cannot reach them.
  if (s.paused && !s.relaying) {
    s.paused = false;
    ops_.kick(s.fd());
  }
  if (!s.relaying) {
    // While the agent relays, recv() autotunes the receive buffer (up to tcp_rmem's 32 MiB on
    // 6.18) and the sender's window with it: cap it at the limit.
    ops_.cap_receive_buffer(s.fd(), ops_.flow_limit());
    s.relaying = true;
    update_interest(s);
  }
  relay(s);
}

// `s` sent more than the limit that its peer's reader has not taken yet: keep its next bytes in
// its own TCP receive queue until the peer has drained to half the limit. A quarter of the limit
// as SO_RCVLOWAT: what TCP releases at once when the queue reaches it (or nears the receive
// buffer) stays well below the verdict's hard limit, so pauses rarely end in a hold.
void FlowTable::on_pause(Side& s) {
  if (s.paused || s.relaying || s.closing) return;
  s.paused = ops_.set_rcvlowat(s.fd(), ops_.flow_limit() / 4);
}

void FlowTable::maybe_resume(Side& s) {
  if (s.flow.ended || bytes_in_middle(s) > ops_.flow_limit() / 2) return;
  // SO_RCVLOWAT back to 1 also runs the verdict over what waited in the queue.
  ops_.kick(s.fd());
  s.paused = false;
}

// Everything the verdict held on `from` has been written to the peer.
bool FlowTable::relay_done(const Side& from) const {
  if (from.has_pending()) return false;
  // A closing backend: done once the close frame is out and every held byte after it dropped.
  if (from.closing && !(from.flow.close && from.flow.close->frame_sent)) return false;
  const auto side = ops_.flow_side(from.cookie());
  return !side || side->held <= from.relayed + from.discarded;
}

// Moves held bytes from `from` to its peer, never faster than the peer's send buffer takes them
// (that buffer is the flow's only buffer while it is held back). Held bytes arrived after
// everything the verdict redirected, so the first write waits until the peer's send path has taken
// all redirected bytes (its kernel backlog is empty). Each write is published to the verdict
// (wsteer_flow_ctl.relayed): once it equals what was held, the verdict sends new bytes through the
// kernel again, behind the relayed ones.
void FlowTable::relay(Side& from) {
  Side& dst = from.peer();
  if (from.flow.ended || !from.relaying) return;
  for (int round = 0; round < 16; ++round) {  // bounded: other flows get their turn
    if (from.has_pending()) {
      // The limit holds for relayed bytes too: never more than it unacknowledged by the reader.
      const std::uint64_t in_middle = bytes_in_middle(from);
      const std::uint64_t limit = ops_.flow_limit();
      if (in_middle >= limit) {
        // Meanwhile keep the sender's new bytes in its TCP queue rather than holding them too:
        // once the agent has written what it holds, they go through the kernel (see below).
        if (!from.paused) from.paused = ops_.set_rcvlowat(from.fd(), limit / 4);
        return;  // next tick
      }
      const auto room = static_cast<std::size_t>(
          std::min<std::uint64_t>(limit - in_middle, from.pending.size() - from.pending_off));
      const ssize_t n = ops_.send(dst.fd(), from.pending.data() + from.pending_off, room);
      if (n < 0) {
        if (would_block(n)) return want_writable(dst, true);
        spdlog::debug("flow {}: relaying held bytes failed: {}", from.flow.id, std::system_category().message(static_cast<int>(-n)));
        end(from.flow);  // the peer is gone: nothing more can be delivered
        return;
      }
      from.pending_off += static_cast<std::size_t>(n);
      from.relayed += static_cast<std::uint64_t>(n);
      relayed_total_ += static_cast<std::uint64_t>(n);
      if (auto ec = ops_.set_flow_control(from.cookie(), dst.written_base(), from.relayed, false))
        spdlog::warn("flow {}: cannot publish relayed bytes to the verdict: {}", from.flow.id, ec.message());
      continue;
    }
    from.pending.clear();
    from.pending_off = 0;
    if (from.paused) {
      // Everything held so far is written: let the verdict see the queued bytes. It sends them
      // through the kernel (relayed == held) unless the reader is far behind again.
      ops_.kick(from.fd());
      from.paused = false;
    }
    want_writable(dst, false);
    const auto side = ops_.flow_side(from.cookie());
    if (!side) return;
    const std::uint64_t written = ops_.bytes_written(dst.fd()) - dst.written_base();
    if (written < side->bytes + from.relayed) return;  // the peer's backlog is not empty yet: next tick
    from.pending.resize(kRelayChunk);
    const ssize_t n = read(from, from.pending.data(), from.pending.size());
    if (n > 0) {
      from.pending.resize(static_cast<std::size_t>(n));
      continue;
    }
    from.pending.clear();
    // Nothing readable. Done when everything held has been relayed: the verdict then takes the
    // flow back at its next byte. Read `held` after recv(): the verdict counts a held skb before
    // it is queued, so a count ahead of what recv() saw means more is on its way (EPOLLIN).
    if (const auto now = ops_.flow_side(from.cookie()); now && now->held > from.relayed) return;
    from.relaying = false;
    update_interest(from);
    return;
  }
}

}  // namespace wsteer::proxy
