#include "proxy/flow_table.h"
#include "proxy/flow_table_state.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <system_error>

namespace wsteer::proxy {
using namespace flows_detail;

FlowTable::FlowTable(FlowOps& ops, std::chrono::milliseconds drain_timeout) : ops_(ops), drain_timeout_(drain_timeout) {}

FlowTable::~FlowTable() { end_all(); }

std::uint64_t FlowTable::adopt(SplicedFlow owned) {
  const std::uint64_t id = next_id_++;
  auto [it, inserted] = flows_.emplace(id, std::make_unique<Flow>(id, std::move(owned)));
  Flow& flow = *it->second;
  flow.client().relayed = flow.owned.client_relayed;
  flow.backend().relayed = flow.owned.backend_relayed;
  for (Side& s : flow.sides) by_cookie_[s.cookie()] = &s;
  for (Side& s : flow.sides) {
    if (ops_.watch(s.fd(), token(id, s.index), {})) continue;
    spdlog::error("flow {} to backend {}: cannot watch its {} socket: closing it", id, flow.owned.lease.backend_id(),
                  side_name(s.index));
    end(flow);
    return id;
  }
  // The verdict runs from the splice on, before this call, and a flow handed over by another agent
  // had its events read there: a backend streaming behind its 101 (or a reader that was behind
  // before the hand-off) may have the verdict holding or pausing a side already, and its event
  // came before the flow was here to receive it. Take that state from the map instead. An event
  // that still comes later finds the side relaying or paused and changes nothing, except that a
  // hold may be counted twice in holds_total_.
  for (Side& s : flow.sides) {
    const auto side = ops_.flow_side(s.cookie());
    if (!side) continue;
    if (s.index == kClient) flow.created_ns = side->created_ns;
    if (side->holding || side->held > s.relayed) {
      spdlog::debug("adopted flow {}: its {} side is held ({} bytes to relay)", id, side_name(s.index),
                    side->held - std::min<std::uint64_t>(side->held, s.relayed));
      on_hold(s);
    } else if (side->pausing) {
      on_pause(s);
    }
  }
  refresh(flow);
  return id;
}

std::vector<SplicedFlow> FlowTable::release_quiet() {
  std::vector<SplicedFlow> out;
  for (auto it = flows_.begin(); it != flows_.end();) {
    Flow& flow = *it->second;
    // Busy: a close frame being placed (the close reads and drops held bytes, which then live in
    // this process only); only this process can finish that. A relay is not busy: its pending
    // bytes were only peeked and are still on the socket (relay()), and the held/relayed counts it
    // works from are in the maps and go with the flow.
    const bool busy = flow.ended || flow.close ||
                      std::any_of(flow.sides.begin(), flow.sides.end(), [](const Side& s) { return s.closing; });
    if (busy) {
      ++it;
      continue;
    }
    for (Side& s : flow.sides) {
      // A pause lives in this process's bookkeeping only: let the verdict see the queue again; if
      // the reader is still behind, it pauses or holds again and tells the successor.
      if (s.paused) ops_.kick(s.fd());
      ops_.unwatch(s.fd());
      by_cookie_.erase(s.cookie());
    }
    // A FIN seen but not yet propagated is seen again by the successor: epoll reports a socket
    // that is already half-closed when it is added.
    waiting_.erase(&flow);
    flow.owned.client_relayed = flow.client().relayed;
    flow.owned.backend_relayed = flow.backend().relayed;
    out.push_back(std::move(flow.owned));
    it = flows_.erase(it);
  }
  return out;
}

FlowTable::Flow* FlowTable::find(std::uint64_t flow_id) {
  auto it = flows_.find(flow_id);
  return it == flows_.end() || it->second->ended ? nullptr : it->second.get();
}

void FlowTable::end(Flow& flow) {
  if (flow.ended) return;
  flow.ended = true;
  waiting_.erase(&flow);
  ended_.push_back(&flow);
}

void FlowTable::reap() {
  const auto now = ops_.now();
  for (Flow* flow : ended_) {
    if (flow->close && flow->close->frame_sent && now < flow->close->deadline)  // timeouts are logged where they fire
      spdlog::debug("flow {}: rebalance close finished {} ms after the close frame", flow->id,
                    std::chrono::duration_cast<std::chrono::milliseconds>(now - (flow->close->deadline - close_timeout_)).count());
    for (const Side& s : flow->sides) {
      ops_.unwatch(s.fd());
      by_cookie_.erase(s.cookie());
    }
    ops_.remove(flow->owned.sockets);
    flows_.erase(flow->id);  // closes both descriptors, then ends its counts (steering, active connections)
  }
  ended_.clear();
}

void FlowTable::end_all() {
  for (auto& [id, flow] : flows_) end(*flow);
  reap();
}

void FlowTable::refresh(Flow& flow) {
  if (flow.waiting())
    waiting_.insert(&flow);
  else
    waiting_.erase(&flow);
}

void FlowTable::update_interest(Side& s) {
  if (s.flow.ended) return;
  const Interest interest{s.relaying || s.closing, s.want_out};
  if (!ops_.rewatch(s.fd(), token(s.flow.id, s.index), interest)) end(s.flow);  // unwatchable: it could hang forever
}

ssize_t FlowTable::read(Side& s, char* data, std::size_t size) {
  const ssize_t n = ops_.recv(s.fd(), data, size);
  if (n > 0) read_total_[s.index] += static_cast<std::uint64_t>(n);
  return n;
}

void FlowTable::want_writable(Side& s, bool want) {
  if (s.want_out == want) return;
  s.want_out = want;
  update_interest(s);
}

void FlowTable::on_socket(std::uint64_t tok, const SocketEvents& events) {
  Flow* flow = find(tok >> 1);
  if (!flow) return;
  Side& s = flow->sides[tok & 1];
  if (events.error) {
    spdlog::debug("flow {}: {} socket error: {}", flow->id, side_name(s.index),
                  std::system_category().message(ops_.socket_error(s.fd())));
    end(*flow);  // a reset: nothing left to deliver, end both sides now
    return;
  }
  // Each step is a no-op on a flow the previous one ended.
  if (events.readable && s.relaying) relay(s);
  if (events.writable && s.peer().relaying) relay(s.peer());
  if ((events.readable || events.writable) && flow->close) advance_close(*flow);
  if (events.hangup) on_hangup(s);
  refresh(*flow);
}

void FlowTable::on_datapath_event(const wsteer_event& event) {
  auto where = by_cookie_.find(event.cookie);
  if (where == by_cookie_.end() || where->second->flow.ended) return;  // a flow that just ended
  Side& s = *where->second;
  if (event.kind == WSTEER_EVENT_HOLD) on_hold(s);
  if (event.kind == WSTEER_EVENT_PAUSE) on_pause(s);
  // WSTEER_EVENT_CLOSING needs nothing here: closing flows are advanced on every pass.
  refresh(s.flow);
}

void FlowTable::tick() {
  const std::vector<Flow*> waiting(waiting_.begin(), waiting_.end());
  for (Flow* flow : waiting) {
    for (Side& s : flow->sides)
      if (s.relaying) relay(s);
    for (Side& s : flow->sides)
      if (s.paused && !s.relaying) maybe_resume(s);
    if (flow->close) advance_close(*flow);
    advance_half_close(*flow);
    if (!flow->ended) refresh(*flow);
  }
  reap();
}

// What the socket `from` sent through the verdict that its peer's receiver has not acknowledged:
// the peer's psock backlog, its TCP write queue and what is in flight.
std::uint64_t FlowTable::bytes_in_middle(const Side& from) const {
  const Side& dst = from.peer();
  const std::uint64_t sent_total = ops_.redirected_bytes(from.cookie()) + from.relayed + dst.written_base();
  const std::uint64_t acked = ops_.bytes_acked(dst.fd());
  return sent_total > acked ? sent_total - acked : 0;
}

SplicedFlowStats FlowTable::stats_without_middle() const {
  SplicedFlowStats s{size(), 0, 0, relayed_total_, holds_total_, {read_total_[0], read_total_[1]}};
  for (const auto& [id, flow] : flows_)
    for (const Side& side : flow->sides)
      if (!flow->ended && (side.relaying || side.paused)) ++s.flows_holding;
  return s;
}

SplicedFlowStats FlowTable::stats() const {
  SplicedFlowStats s = stats_without_middle();
  for (const auto& [id, flow] : flows_)
    for (const Side& side : flow->sides)
      if (!flow->ended) s.bytes_in_middle += bytes_in_middle(side);
  return s;
}

void FlowTable::on_hangup(Side& s) {
  if (s.flow.ended || s.eof) return;
  s.eof = true;
  s.drain_deadline = ops_.now() + drain_timeout_;
  s.last_progress = 0;
}

void FlowTable::advance_half_close(Flow& flow) {
  for (Side& s : flow.sides)
    if (!flow.ended && s.fin_pending()) try_half_close(s);
  if (!flow.ended && flow.client().eof && flow.backend().eof && !flow.client().fin_pending() && !flow.backend().fin_pending())
    end(flow);  // both directions finished
}

// The side `from` has sent its FIN. Shut the peer's write side once every byte the verdict took
// from `from` has entered the peer's TCP send path: shutting earlier would make the kernel's
// backlog worker fail the rest with EPIPE. The FIN skb itself is dropped by the verdict.
// FIONREAD cannot tell whether data still waits ahead of the FIN (with tcp_bpf it reports only the
// psock's own queue), so "done" means: all redirected bytes written, and the verdict's
// counter unchanged since the previous look (the verdict runs right after TCP queues the data, in
// the same softirq that signals the FIN).
void FlowTable::try_half_close(Side& from) {
  Side& dst = from.peer();
  // Held bytes count as sent once the agent relayed them; all of them must be relayed first.
  const std::uint64_t redirected = ops_.redirected_bytes(from.cookie()) + from.relayed;
  const std::uint64_t written = ops_.bytes_written(dst.fd()) - dst.written_base();
  const bool settled = redirected == from.last_redirected;
  from.last_redirected = redirected;
  const auto now = ops_.now();
  const bool done = written >= redirected && settled && relay_done(from);
  if (!done) {
    // Still moving (a slow reader may take long): keep waiting. Give up only when
    // nothing moved for the whole drain timeout.
    const std::uint64_t progress = redirected + written + ops_.bytes_acked(dst.fd());
    if (progress != from.last_progress) {
      from.last_progress = progress;
      from.drain_deadline = now + drain_timeout_;
      return;
    }
    if (now < from.drain_deadline) return;
    spdlog::warn("flow to backend {}: {} bytes stuck for {} ms, closing anyway", from.flow.owned.lease.backend_id(),
                 redirected - std::min(written, redirected), drain_timeout_.count());
  }
  spdlog::debug("flow to backend {}: FIN from {} propagated after {} redirected bytes", from.flow.owned.lease.backend_id(),
                side_name(from.index), redirected);
  ops_.shutdown_write(dst.fd());
  dst.write_shut = true;
}

}  // namespace wsteer::proxy
