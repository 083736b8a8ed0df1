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
//    not finish within close_timeout_ gets both sides closed.
#include "proxy/frame_tracker.h"
#include "proxy/spliced_flows.h"
#include "proxy/spliced_flows_internal.h"

#include "datapath/socket_info.h"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
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

std::vector<RebalanceCandidate> SplicedFlows::rebalance_candidates() const {
  std::lock_guard lock(mutex_);
  std::vector<RebalanceCandidate> out;
  out.reserve(flows_.size());
  for (const auto& [id, flow] : flows_)
    out.push_back({id, flow->owned.lease.backend_id(), flow->owned.lease.steering(), flow->created_ns, flow->close.has_value(),
                   !flow->untracked && !flow->sides[kClient].eof && !flow->sides[kBackend].eof});
  return out;
}

std::unordered_map<const steering::Steering*, RebalanceCounts> SplicedFlows::rebalance_counts() const {
  std::lock_guard lock(mutex_);
  return rebalance_counts_;
}

std::size_t SplicedFlows::closing() const {
  std::lock_guard lock(mutex_);
  return closing_.size();
}

bool SplicedFlows::request_close(std::uint64_t flow_id) {
  std::lock_guard lock(mutex_);
  auto it = flows_.find(flow_id);
  if (it == flows_.end()) return false;
  Flow& flow = *it->second;
  Side& backend = flow.sides[kBackend];
  if (flow.close || flow.untracked || backend.eof || flow.sides[kClient].eof) return false;
  const auto side = datapath_.flow_side(backend.cookie);
  if (!side || side->frames.lost) {
    flow.untracked = true;
    return false;
  }
  if (auto ec = datapath_.set_flow_control(backend.cookie, flow.sides[kClient].written_base, backend.relayed, true)) {
    spdlog::warn("flow {}: cannot request its close: {}", flow_id, ec.message());
    return false;
  }
  auto& close = flow.close.emplace();
  close.requested = std::chrono::steady_clock::now();
  close.deadline = close.requested + close_timeout_;
  close.read = backend.relayed + (backend.pending.size() - backend.pending_off) + backend.discarded;
  backend.closing = true;
  // The close takes over from backpressure: it relays what is pending itself.
  if (backend.relaying) {
    backend.relaying = false;
    relaying_.erase(token(flow_id, kBackend));
  }
  // Bytes kept in the TCP queue by a pause must reach the verdict (to be held) and recv().
  if (backend.paused) {
    backend.paused = false;
    paused_.erase(token(flow_id, kBackend));
    datapath::kick(backend.fd);
  }
  closing_.insert(flow_id);
  update_interest(flow, flow_id, kBackend);
  return true;
}

void SplicedFlows::close_abort(std::uint64_t flow_id, const char* why) {
  auto it = flows_.find(flow_id);
  if (it == flows_.end()) return;
  spdlog::info("flow {} to backend {}: rebalance close abandoned ({}): closing both sides", flow_id,
               it->second->owned.lease.backend_id(), why);
  ++rebalance_counts_[it->second->owned.lease.steering()].aborted;
  finish_locked(flow_id);
}

// Where the held stream's first frame boundary lies, once the verdict's state can be trusted.
// True when `limit` is known or being searched for; false when the flow was ended.
bool SplicedFlows::close_find_boundary(Flow& flow) {
  CloseState& c = *flow.close;
  if (c.base_known) return true;
  const auto side = datapath_.flow_side(flow.sides[kBackend].cookie);
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

void SplicedFlows::advance_close(std::uint64_t flow_id) {
  auto it = flows_.find(flow_id);
  if (it == flows_.end()) {
    closing_.erase(flow_id);
    return;
  }
  Flow& flow = *it->second;
  CloseState& c = *flow.close;
  Side& src = flow.sides[kBackend];
  Side& dst = flow.sides[kClient];
  const auto now = std::chrono::steady_clock::now();
  std::array<char, 64 * 1024> sink;

  if (c.frame_sent) {
    // After the close frame nothing the backend sends may reach the client: drop it.
    for (int round = 0; round < 16; ++round) {
      const ssize_t n = ::recv(src.fd, sink.data(), sink.size(), MSG_DONTWAIT);
      if (n <= 0) break;
      src.discarded += static_cast<std::uint64_t>(n);
      c.read += static_cast<std::uint64_t>(n);
    }
    if (now >= c.deadline) {
      spdlog::debug("flow {}: client did not finish the close in time: closing both sides", flow_id);
      ++rebalance_counts_[flow.owned.lease.steering()].timed_out;
      finish_locked(flow_id);
    }
    return;
  }
  if (now < c.requested + kSettle) return;
  if (now >= c.deadline) return close_abort(flow_id, "no frame boundary in time");
  if (!close_find_boundary(flow)) return close_abort(flow_id, "frame boundaries unknown");

  for (int round = 0; round < 64; ++round) {  // bounded: other flows get their turn
    const bool have_pending = src.pending_off < src.pending.size();
    // `read` counts what was dropped past the boundary too: everything before it is read once
    // read >= limit.
    if (have_pending || (c.bounded && c.read >= c.limit)) {
      // Every write into the client's stream waits until the bytes the verdict redirected before
      // the hold are in the client's send path (nothing of ours may overtake them).
      const auto side = datapath_.flow_side(src.cookie);
      if (!side) return close_abort(flow_id, "flow left the map");
      const std::uint64_t written = datapath::tcp_bytes_written(dst.fd).value_or(0) - dst.written_base;
      if (written < side->bytes + src.relayed) return;  // next pass
      const char* data = have_pending ? src.pending.data() + src.pending_off : kCloseFrame.data() + c.frame_off;
      const std::size_t size = have_pending ? src.pending.size() - src.pending_off : kCloseFrame.size() - c.frame_off;
      const ssize_t n = ::send(dst.fd, data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
          if (!dst.want_out) {
            dst.want_out = true;
            update_interest(flow, flow_id, kClient);
          }
          return;
        }
        return close_abort(flow_id, "client gone");
      }
      if (dst.want_out) {
        dst.want_out = false;
        update_interest(flow, flow_id, kClient);
      }
      if (have_pending) {
        src.pending_off += static_cast<std::size_t>(n);
        src.relayed += static_cast<std::uint64_t>(n);
        relayed_total_ += static_cast<std::uint64_t>(n);
        datapath_.set_flow_control(src.cookie, dst.written_base, src.relayed, true);
        continue;
      }
      c.frame_off += static_cast<std::size_t>(n);
      if (c.frame_off < kCloseFrame.size()) continue;
      c.frame_sent = true;
      c.deadline = now + close_timeout_;
      ++rebalance_counts_[flow.owned.lease.steering()].closed;
      spdlog::debug("flow {} to backend {} (client port {}): close frame 1012 written after {} redirected and {} "
                    "relayed bytes (base {}, limit {}, read {}, discarded {})",
                    flow_id, flow.owned.lease.backend_id(), side->client_port, side->bytes, src.relayed, c.base, c.limit,
                    c.read, src.discarded);
      return;
    }
    src.pending.clear();
    src.pending_off = 0;
    // Read held bytes: up to the boundary once it is known, else as much as there is, looking for it.
    const std::size_t want = c.bounded ? static_cast<std::size_t>(std::min<std::uint64_t>(c.limit - c.read, kRelayChunk))
                                       : kRelayChunk;
    src.pending.resize(want);
    const ssize_t n = ::recv(src.fd, src.pending.data(), want, MSG_DONTWAIT);
    if (n == 0) return close_abort(flow_id, "backend hung up inside a frame");
    if (n < 0) {
      src.pending.clear();
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;  // EPOLLIN or the next pass
      return close_abort(flow_id, "backend socket error");
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
