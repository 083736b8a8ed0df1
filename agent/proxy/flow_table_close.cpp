// Rebalance: closing a spliced flow with a WebSocket close frame 1012 (Service Restart) written by
// the agent into the backend->client stream, where a backend frame ends.
//
// 1. request_close() sets `close` in the backend socket's wsteer_flow_ctl entry. From its next skb
//    the verdict holds every byte the backend sends, and its frame state (wsteer_flows.frames)
//    stops at the last byte that went through: where the frame in progress ends is known.
// 2. advance_close() reads the held bytes, relays them up to that boundary (so the client never
//    sees half a frame), after everything the verdict redirected earlier has entered the client's
//    send path (the rule for every relayed write), then writes the close frame, and from then on
//    drops whatever the backend sends.
// 3. The client->backend direction stays spliced: the client's close reply reaches the backend in
//    the kernel, the backend hangs up, and the half-close logic ends the flow. A client that does
//    not finish within the close timeout gets both sides closed.
#include "proxy/frame_tracker.h"
#include "proxy/flow_table.h"
#include "proxy/flow_table_state.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

namespace wsteer::proxy {
using namespace flows_detail;
namespace {

// FIN + close, 2-byte payload 1012 (0x03F4), unmasked as a server's frame must be (RFC 6455 5.1).
constexpr std::array<char, 4> kCloseFrame{'\x88', '\x02', '\x03', '\xF4'};
// A verdict that read wsteer_flow_ctl just before the close request was written may still be
// redirecting one skb: wait this long before trusting the frame state it leaves (a verdict runs
// for microseconds, in softirq).
constexpr auto kSettle = std::chrono::milliseconds(5);

}  // namespace

std::vector<RebalanceCandidate> FlowTable::rebalance_candidates() const {
  std::vector<RebalanceCandidate> out;
  out.reserve(flows_.size());
  for (const auto& [id, flow] : flows_) {
    if (flow->ended) continue;
    const auto& s = flow->sides;
    out.push_back({id, flow->owned.lease.backend_id(), flow->owned.lease.steering(), flow->created_ns, flow->close.has_value(),
                   !flow->untracked && !s[kClient].eof && !s[kBackend].eof});
  }
  return out;
}

std::size_t FlowTable::closing() const {
  return static_cast<std::size_t>(std::count_if(flows_.begin(), flows_.end(),
                                                [](const auto& f) { return !f.second->ended && f.second->close; }));
}

bool FlowTable::request_close(std::uint64_t flow_id) {
  Flow* found = find(flow_id);
  if (!found) return false;
  Flow& flow = *found;
  Side& backend = flow.backend();
  if (flow.close || flow.untracked || backend.eof || flow.client().eof) return false;
  const auto side = ops_.flow_side(backend.cookie());
  if (!side || side->frames.lost) {
    flow.untracked = true;
    return false;
  }
  if (auto ec = ops_.set_flow_control(backend.cookie(), flow.client().written_base(), backend.relayed, true)) {
    spdlog::warn("flow {}: cannot request its close: {}", flow_id, ec.message());
    return false;
  }
  auto& close = flow.close.emplace();
  close.requested = ops_.now();
  close.deadline = close.requested + close_timeout_;
  // The close takes over from backpressure. A relay's pending bytes were only peeked (relay()):
  // they are still on the socket, where the close reads them itself.
  backend.pending.clear();
  backend.pending_off = 0;
  close.read = backend.relayed + backend.discarded;
  backend.closing = true;
  backend.relaying = false;
  // Bytes kept in the TCP queue by a pause must reach the verdict (to be held) and recv().
  if (backend.paused) {
    backend.paused = false;
    ops_.kick(backend.fd());
  }
  update_interest(backend);
  refresh(flow);
  return true;
}

void FlowTable::close_abort(Flow& flow, const char* why) {
  if (flow.ended) return;
  spdlog::info("flow {} to backend {}: rebalance close abandoned ({}): closing both sides", flow.id,
               flow.owned.lease.backend_id(), why);
  ++rebalance_counts_[flow.owned.lease.steering()].aborted;
  end(flow);
}

// Where the held stream's first frame boundary lies, once the verdict's state can be trusted.
// True when `limit` is known or being searched for; false when the flow's frames are unknown.
bool FlowTable::close_find_boundary(Flow& flow) {
  CloseState& c = *flow.close;
  if (c.base_known) return true;
  const auto side = ops_.flow_side(flow.backend().cookie());
  if (!side) return false;
  if (side->frames.lost) return false;
  // `held` before the close, or where the verdict's close hold began (see wsteer_abi.h on why a
  // copy never shows a `held` with close-held bytes next to closing == 0).
  c.base = side->closing ? side->close_held_base : side->held;
  c.frames = side->frames;
  c.base_known = true;
  spdlog::debug("flow to backend {}: close hold at held byte {}, {} bytes left in the frame, {} header bytes",
                flow.owned.lease.backend_id(), c.base, c.frames.frame_left, c.frames.hdr_len);
  if (wsteer_ws_at_boundary(&c.frames)) {
    c.bounded = true;
    c.limit = c.base;
  }
  return true;
}

void FlowTable::advance_close(Flow& flow) {
  if (flow.ended || !flow.close) return;
  CloseState& c = *flow.close;
  Side& src = flow.backend();
  Side& dst = flow.client();
  const auto now = ops_.now();
  std::array<char, 64 * 1024> sink;

  if (c.frame_sent) {
    // After the close frame nothing the backend sends may reach the client: drop it.
    for (int round = 0; round < 16; ++round) {
      const ssize_t n = read(src, sink.data(), sink.size());
      if (n <= 0) break;
      src.discarded += static_cast<std::uint64_t>(n);
      c.read += static_cast<std::uint64_t>(n);
    }
    if (now >= c.deadline) {
      spdlog::debug("flow {}: client did not finish the close in time: closing both sides", flow.id);
      ++rebalance_counts_[flow.owned.lease.steering()].timed_out;
      end(flow);
    }
    return;
  }
  if (now < c.requested + kSettle) return;
  if (now >= c.deadline) return close_abort(flow, "no frame boundary in time");
  if (!close_find_boundary(flow)) return close_abort(flow, "frame boundaries unknown");

  for (int round = 0; round < 64; ++round) {  // bounded: other flows get their turn
    const bool have_pending = src.has_pending();
    // `read` counts what was dropped past the boundary too: everything before it is read once
    // read >= limit.
    if (have_pending || (c.bounded && c.read >= c.limit)) {
      // Every write into the client's stream waits until the bytes the verdict redirected before
      // the hold are in the client's send path (nothing of ours may overtake them).
      const auto side = ops_.flow_side(src.cookie());
      if (!side) return close_abort(flow, "flow left the map");
      const std::uint64_t written = ops_.bytes_written(dst.fd()) - dst.written_base();
      if (written < side->bytes + src.relayed) return;  // next pass
      const char* data = have_pending ? src.pending.data() + src.pending_off : kCloseFrame.data() + c.frame_off;
      const std::size_t size = have_pending ? src.pending.size() - src.pending_off : kCloseFrame.size() - c.frame_off;
      const ssize_t n = ops_.send(dst.fd(), data, size);
      if (n < 0) {
        if (would_block(n)) return want_writable(dst, true);
        return close_abort(flow, "client gone");
      }
      want_writable(dst, false);
      if (have_pending) {
        src.pending_off += static_cast<std::size_t>(n);
        src.relayed += static_cast<std::uint64_t>(n);
        relayed_total_ += static_cast<std::uint64_t>(n);
        if (auto ec = ops_.set_flow_control(src.cookie(), dst.written_base(), src.relayed, true))
          spdlog::warn("flow {}: cannot publish relayed bytes to the verdict: {}", flow.id, ec.message());
        continue;
      }
      c.frame_off += static_cast<std::size_t>(n);
      if (c.frame_off < kCloseFrame.size()) continue;
      c.frame_sent = true;
      c.deadline = now + close_timeout_;
      ++rebalance_counts_[flow.owned.lease.steering()].closed;
      spdlog::debug("flow {} to backend {} (client port {}): close frame 1012 written after {} redirected and {} "
                    "relayed bytes (base {}, limit {}, read {}, discarded {})",
                    flow.id, flow.owned.lease.backend_id(), side->client_port, side->bytes, src.relayed, c.base, c.limit,
                    c.read, src.discarded);
      return;
    }
    src.pending.clear();
    src.pending_off = 0;
    // Read held bytes: up to the boundary once it is known, else as much as there is, looking for it.
    const std::size_t want = c.bounded ? static_cast<std::size_t>(std::min<std::uint64_t>(c.limit - c.read, kRelayChunk))
                                       : kRelayChunk;
    src.pending.resize(want);
    const ssize_t n = read(src, src.pending.data(), want);
    if (n == 0) return close_abort(flow, "backend hung up inside a frame");
    if (n < 0) {
      src.pending.clear();
      if (would_block(n)) return;  // EPOLLIN or the next pass
      return close_abort(flow, "backend socket error");
    }
    const auto got = static_cast<std::uint64_t>(n);
    std::uint64_t keep = got;
    if (!c.bounded && c.read + got > c.base) {
      // Bytes from `base` on follow the verdict's frame state: find where the current frame ends.
      const std::uint64_t start = c.base > c.read ? c.base - c.read : 0;
      const std::size_t k = advance_frames(c.frames, src.pending.data() + start, static_cast<std::size_t>(got - start), true);
      if (wsteer_ws_at_boundary(&c.frames)) {
        c.bounded = true;
        c.limit = c.read + start + k;
        keep = start + k;
      }
    }
    src.pending.resize(static_cast<std::size_t>(keep));
    src.discarded += got - keep;
    c.read += got;
  }
}

}  // namespace wsteer::proxy
