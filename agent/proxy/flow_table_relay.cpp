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
    // 6.18) and the sender's window with it: cap it at the limit. What the buffer then holds,
    // one peek takes (see relay()).
    s.relay_read = std::max(kRelayChunk, ops_.cap_receive_buffer(s.fd(), ops_.flow_limit()));
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
//
// How a hold ends: held bytes are charged to the sender socket's receive buffer, so they close
// the sender's window. The agent therefore *peeks* at them, writes them to the peer, publishes
// the count, and only then takes them off the socket (take_relayed). The window opens after the
// verdict knows that everything held was relayed, so the next skb goes through the kernel.
// (Reading first opened the window while the agent still had to write: each new skb found a held
// byte not yet relayed and was held too, and a hold on a busy flow never ended.)
void FlowTable::relay(Side& from) {
  Side& dst = from.peer();
  if (from.flow.ended || !from.relaying) return;
  for (int round = 0; round < 16; ++round) {  // bounded: other flows get their turn
    if (from.has_pending()) {
      // The limit holds for relayed bytes too: never more than it unacknowledged by the reader.
      const std::uint64_t in_middle = bytes_in_middle(from);
      const std::uint64_t limit = ops_.flow_limit();
      if (in_middle >= limit) return;  // next tick; the unread held bytes keep the window closed
      const auto room = static_cast<std::size_t>(
          std::min<std::uint64_t>(limit - in_middle, from.pending.size() - from.pending_off));
      const ssize_t n = ops_.send(dst.fd(), from.pending.data() + from.pending_off, room);
      if (n < 0) {
        if (would_block(n)) return want_writable(dst, true);
        spdlog::debug("flow {}: relaying held bytes failed: {}", from.flow.id, std::system_category().message(static_cast<int>(-n)));
        end(from.flow);  // the peer is gone: nothing more can be delivered
        return;
      }
      from.relayed += static_cast<std::uint64_t>(n);
      relayed_total_ += static_cast<std::uint64_t>(n);
      if (auto ec = ops_.set_flow_control(from.cookie(), dst.written_base(), from.relayed, false))
        spdlog::warn("flow {}: cannot publish relayed bytes to the verdict: {}", from.flow.id, ec.message());
      if (!take_relayed(from, static_cast<std::size_t>(n))) return;
      from.pending_off += static_cast<std::size_t>(n);
      continue;
    }
    from.pending.clear();
    from.pending_off = 0;
    want_writable(dst, false);
    const auto side = ops_.flow_side(from.cookie());
    if (!side) return;
    const std::uint64_t written = ops_.bytes_written(dst.fd()) - dst.written_base();
    if (written < side->bytes + from.relayed) return;  // the peer's backlog is not empty yet: next tick
    from.pending.resize(from.relay_read);
    const ssize_t n = ops_.peek(from.fd(), from.pending.data(), from.pending.size());
    if (n > 0) {
      from.pending.resize(static_cast<std::size_t>(n));
      continue;
    }
    from.pending.clear();
    // Nothing to peek. Read `held` after the peek: the verdict counts a held skb before it is
    // queued, so a count ahead of what was peeked means more is on its way (EPOLLIN). A paused
    // socket's TCP queue also makes recv() refuse held bytes (docs/kernel-notes.md): the kick runs
    // the verdict over it, through the kernel if everything held is relayed, else held too.
    const auto now = ops_.flow_side(from.cookie());
    if (from.paused) {
      ops_.kick(from.fd());
      from.paused = false;
    }
    if (now && now->held > from.relayed) return;
    // Everything held is relayed: the verdict takes the flow back at its next byte.
    from.pending.shrink_to_fit();
    from.relaying = false;
    update_interest(from);
    return;
  }
}

// Takes the `n` bytes just written to the peer off `from`, where they were peeked. They are the
// bytes at pending_off, so recv() puts the same bytes where they already are. recv() refuses while
// a paused socket's TCP queue is not empty (docs/kernel-notes.md): the kick lets the verdict take
// that queue first. Bytes left on the socket would be peeked and written a second time, so a flow
// whose bytes cannot be taken ends.
bool FlowTable::take_relayed(Side& from, std::size_t n) {
  std::size_t left = n;
  for (int attempt = 0; left > 0 && attempt < 4; ++attempt) {
    const ssize_t got = read(from, from.pending.data() + from.pending_off + (n - left), left);
    if (got > 0) {
      left -= static_cast<std::size_t>(got);
    } else if (would_block(got)) {
      ops_.kick(from.fd());
      from.paused = false;
    } else {
      break;
    }
  }
  if (left == 0) return true;
  spdlog::error("flow {}: {} relayed bytes cannot be taken off its {} socket; closing the flow", from.flow.id, left,
                side_name(from.index));
  end(from.flow);
  return false;
}

}  // namespace wsteer::proxy
