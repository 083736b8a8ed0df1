#include "proxy/spliced_flows.h"
#include "proxy/spliced_flows_internal.h"

#include "datapath/socket_info.h"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <system_error>
#include <tuple>
#include <vector>

namespace wsteer::proxy {
using namespace flows_detail;
namespace {

// TCP calls the verdict only once this many bytes wait (or the receive buffer nears full).
bool set_rcvlowat(int fd, std::uint64_t bytes) {
  const int lowat = static_cast<int>(std::clamp<std::uint64_t>(bytes, 1, 1u << 30));
  return ::setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat)) == 0;
}

}  // namespace

SplicedFlows::SplicedFlows(datapath::SpliceDatapath& datapath, std::chrono::milliseconds drain_timeout)
    : datapath_(datapath), drain_timeout_(drain_timeout),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)), wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!epoll_ || !wake_) throw std::system_error(errno, std::generic_category(), "epoll/eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeToken;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev);
  ev.data.u64 = kEventsToken;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, datapath_.events_fd(), &ev);
  thread_ = std::thread([this] { run(); });
}

SplicedFlows::~SplicedFlows() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof(one));
  thread_.join();
  close_all();
}

void SplicedFlows::adopt(SplicedFlow owned) {
  auto flow = std::make_unique<Flow>();
  for (auto [side, fd, cookie, base] :
       {std::tuple{kClient, owned.sockets.client_fd, owned.sockets.client_cookie, owned.client_written_base},
        std::tuple{kBackend, owned.sockets.backend_fd, owned.sockets.backend_cookie, owned.backend_written_base}}) {
    flow->sides[side].fd = fd;
    flow->sides[side].cookie = cookie;
    flow->sides[side].written_base = base;
  }
  if (const auto side = datapath_.flow_side(owned.sockets.client_cookie)) flow->created_ns = side->created_ns;
  const std::array<std::uint64_t, 2> owned_cookies{owned.sockets.client_cookie, owned.sockets.backend_cookie};
  flow->owned = std::move(owned);

  std::lock_guard lock(mutex_);
  const std::uint64_t id = next_id_++;
  for (int side : {kClient, kBackend}) {
    epoll_event ev{};
    // RDHUP only: data arriving (and redirected by the kernel) must not wake this thread.
    // Edge-triggered: a half-closed socket stays RDHUP, report it once.
    ev.events = EPOLLRDHUP | EPOLLET;
    ev.data.u64 = token(id, side);
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, flow->sides[side].fd, &ev);
    by_cookie_[flow->sides[side].cookie] = {id, side};
  }
  flows_.emplace(id, std::move(flow));
  // The verdict runs from the splice on, before this call: a backend streaming behind its 101
  // can make it hold or pause the flow at the first kick, and on_hold_event()/on_pause_event()
  // drop events of cookies not adopted yet. Take them from the verdict's state instead, under
  // mutex_ as the events are. An event that still comes later finds the flow already relaying or
  // paused and changes nothing, except that a HOLD is counted twice in holds_total_.
  for (const std::uint64_t cookie : owned_cookies) {
    if (const auto state = datapath_.flow_side(cookie); state && state->holding)
      on_hold_event(cookie);
    else if (state && state->pausing)
      on_pause_event(cookie);
  }
}

std::size_t SplicedFlows::size() const {
  std::lock_guard lock(mutex_);
  return flows_.size();
}

SplicedFlowStats SplicedFlows::stats() const {
  std::lock_guard lock(mutex_);
  SplicedFlowStats s{flows_.size(), 0, relaying_.size() + paused_.size(), relayed_total_, holds_total_};
  for (const auto& [id, flow] : flows_)
    for (int side : {kClient, kBackend}) s.bytes_in_middle += bytes_in_middle(*flow, side);
  return s;
}

void SplicedFlows::close_all() {
  std::lock_guard lock(mutex_);
  while (!flows_.empty()) finish_locked(flows_.begin()->first);
}

void SplicedFlows::run() {
  std::array<epoll_event, 256> events{};
  for (;;) {
    bool busy;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      busy = !half_closing_.empty() || !relaying_.empty() || !paused_.empty() || !closing_.empty();
    }
    // Poll fast while a half-close waits for bytes to drain or a relay waits for the peer's
    // backlog to empty, otherwise sleep until an event.
    const int n = ::epoll_wait(epoll_.get(), events.data(), events.size(), busy ? 1 : 1000);
    std::lock_guard lock(mutex_);
    for (int i = 0; i < n; ++i) {
      const auto tok = events[i].data.u64;
      if (tok == kWakeToken) continue;
      if (tok == kEventsToken) {
        datapath_.consume_events([this](const wsteer_event& ev) {
          if (ev.kind == WSTEER_EVENT_HOLD) on_hold_event(ev.cookie);
          if (ev.kind == WSTEER_EVENT_PAUSE) on_pause_event(ev.cookie);
          // WSTEER_EVENT_CLOSING needs nothing here: closing flows are advanced on every pass.
        });
        continue;
      }
      on_event(tok >> 1, static_cast<int>(tok & 1), events[i].events);
    }
    const std::vector<std::uint64_t> relaying(relaying_.begin(), relaying_.end());
    for (auto tok : relaying) relay(tok >> 1, static_cast<int>(tok & 1));
    const std::vector<std::uint64_t> paused(paused_.begin(), paused_.end());
    for (auto tok : paused) maybe_resume(tok >> 1, static_cast<int>(tok & 1));
    const std::vector<std::uint64_t> closing(closing_.begin(), closing_.end());
    for (auto id : closing) advance_close(id);
    advance_half_closes();
  }
}

void SplicedFlows::on_event(std::uint64_t flow_id, int side, std::uint32_t events) {
  auto it = flows_.find(flow_id);
  if (it == flows_.end()) return;
  Flow& flow = *it->second;
  if (events & EPOLLERR) {
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(flow.sides[side].fd, SOL_SOCKET, SO_ERROR, &err, &len);
    spdlog::debug("flow {}: {} socket error: {}", flow_id, side == kClient ? "client" : "backend",
                  std::system_category().message(err));
    finish_locked(flow_id);  // a reset: nothing left to deliver, end both sides now
    return;
  }
  // A relay may end the flow (peer gone): look it up again after each.
  if ((events & EPOLLIN) && flow.sides[side].relaying) {
    relay(flow_id, side);
    if (!flows_.contains(flow_id)) return;
  }
  if ((events & EPOLLOUT) && flow.sides[1 - side].relaying) {
    relay(flow_id, 1 - side);
    if (!flows_.contains(flow_id)) return;
  }
  if ((events & (EPOLLIN | EPOLLOUT)) && flow.close) {
    advance_close(flow_id);
    if (!flows_.contains(flow_id)) return;
  }
  if ((events & (EPOLLRDHUP | EPOLLHUP)) && !flow.sides[side].eof) {
    flow.sides[side].eof = true;
    flow.drain_deadline[side] = std::chrono::steady_clock::now() + drain_timeout_;
    flow.last_progress[side] = 0;
    half_closing_.insert(flow_id);
  }
}

// What the socket `from` sent through the verdict that its peer's receiver has not acknowledged:
// the peer's psock backlog, its TCP write queue and what is in flight.
std::uint64_t SplicedFlows::bytes_in_middle(const Flow& flow, int from) const {
  const Side& src = flow.sides[from];
  const Side& dst = flow.sides[1 - from];
  const std::uint64_t sent_total = datapath_.redirected_bytes(src.cookie) + src.relayed + dst.written_base;
  const std::uint64_t acked = datapath::tcp_bytes_acked(dst.fd).value_or(0);
  return sent_total > acked ? sent_total - acked : 0;
}

void SplicedFlows::advance_half_closes() {
  const std::vector<std::uint64_t> ids(half_closing_.begin(), half_closing_.end());
  for (auto id : ids) {
    auto it = flows_.find(id);
    if (it == flows_.end()) {
      half_closing_.erase(id);
      continue;
    }
    auto& s = it->second->sides;
    for (int side : {kClient, kBackend})
      if (s[side].eof && !s[1 - side].write_shut) try_half_close(*it->second, side);
    const bool pending = (s[kClient].eof && !s[kBackend].write_shut) || (s[kBackend].eof && !s[kClient].write_shut);
    if (s[kClient].eof && s[kBackend].eof && !pending)
      finish_locked(id);
    else if (!pending)
      half_closing_.erase(id);
  }
}

// The side `from` has sent its FIN. Shut the peer's write side once every byte the verdict took
// from `from` has entered the peer's TCP send path: shutting earlier would make the kernel's
// backlog worker fail the rest with EPIPE. The FIN skb itself is dropped by the verdict.
// FIONREAD cannot tell whether data still waits ahead of the FIN (with tcp_bpf it reports only the
// psock's own queue), so "done" means: all redirected bytes written, and the verdict's
// counter unchanged since the previous look (the verdict runs right after TCP queues the data, in
// the same softirq that signals the FIN).
void SplicedFlows::try_half_close(Flow& flow, int from) {
  Side& src = flow.sides[from];
  Side& dst = flow.sides[1 - from];
  // Held bytes count as sent once the agent relayed them; all of them must be relayed first.
  const std::uint64_t redirected = datapath_.redirected_bytes(src.cookie) + src.relayed;
  const std::uint64_t written = datapath::tcp_bytes_written(dst.fd).value_or(0) - dst.written_base;
  const bool settled = redirected == flow.last_redirected[from];
  flow.last_redirected[from] = redirected;
  const auto now = std::chrono::steady_clock::now();
  const bool done = written >= redirected && settled && relay_done(flow, from);
  if (!done) {
    // Still moving (a slow reader may take long): keep waiting. Give up only when
    // nothing moved for the whole drain timeout.
    const std::uint64_t progress = redirected + written + datapath::tcp_bytes_acked(dst.fd).value_or(0);
    if (progress != flow.last_progress[from]) {
      flow.last_progress[from] = progress;
      flow.drain_deadline[from] = now + drain_timeout_;
      return;
    }
    if (now < flow.drain_deadline[from]) return;
    spdlog::warn("flow to backend {}: {} bytes stuck for {} ms, closing anyway", flow.owned.lease.backend_id(),
                 redirected - std::min(written, redirected), drain_timeout_.count());
  }
  spdlog::debug("flow to backend {}: FIN from {} propagated after {} redirected bytes", flow.owned.lease.backend_id(),
                from == kClient ? "client" : "backend", redirected);
  ::shutdown(dst.fd, SHUT_WR);
  dst.write_shut = true;
}

void SplicedFlows::finish_locked(std::uint64_t flow_id) {
  auto it = flows_.find(flow_id);
  if (it == flows_.end()) return;
  auto flow = std::move(it->second);
  flows_.erase(it);
  half_closing_.erase(flow_id);
  relaying_.erase(token(flow_id, kClient));
  relaying_.erase(token(flow_id, kBackend));
  paused_.erase(token(flow_id, kClient));
  paused_.erase(token(flow_id, kBackend));
  closing_.erase(flow_id);
  for (const auto& side : flow->sides) {
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, side.fd, nullptr);
    by_cookie_.erase(side.cookie);
  }
  datapath_.remove(flow->owned.sockets);
  flow.reset();  // closes both descriptors, then ends its counts (steering, active connections)
}

}  // namespace wsteer::proxy

namespace wsteer::proxy {

// The verdict started holding the bytes of socket `cookie`: its peer's reader is behind.
void SplicedFlows::on_hold_event(std::uint64_t cookie) {
  auto where = by_cookie_.find(cookie);
  if (where == by_cookie_.end()) return;  // a flow that just ended
  const auto [flow_id, side] = where->second;
  Flow& flow = *flows_.at(flow_id);
  if (flow.sides[side].closing) return;  // a hold from before the close: the close relays now
  ++holds_total_;
  // Every byte must now reach the verdict (to be held and relayed): a raised SO_RCVLOWAT would
  // keep a sender's last bytes in the TCP queue, where recv() cannot reach them.
  if (paused_.erase(token(flow_id, side))) {
    flow.sides[side].paused = false;
    datapath::kick(flow.sides[side].fd);
  }
  if (!flow.sides[side].relaying) {
    // While the agent relays, recv() autotunes the receive buffer (up to tcp_rmem's 32 MiB on
    // 6.18) and the sender's window with it: cap it at the limit (the kernel doubles the value).
    const int rcvbuf = static_cast<int>(std::clamp<std::uint64_t>(datapath_.flow_limit() / 2, 64 * 1024, 1u << 30));
    ::setsockopt(flow.sides[side].fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    flow.sides[side].relaying = true;
    relaying_.insert(token(flow_id, side));
    update_interest(flow, flow_id, side);
  }
  relay(flow_id, side);
}

// Everything the verdict held on `from` has been written to the peer.
bool SplicedFlows::relay_done(const Flow& flow, int from) const {
  const Side& src = flow.sides[from];
  if (src.pending_off < src.pending.size()) return false;
  // A closing backend: done once the close frame is out and every held byte after it dropped.
  if (src.closing && !(flow.close && flow.close->frame_sent)) return false;
  const auto side = datapath_.flow_side(src.cookie);
  return !side || side->held <= src.relayed + src.discarded;
}

void SplicedFlows::update_interest(Flow& flow, std::uint64_t flow_id, int side) {
  const Side& s = flow.sides[side];
  epoll_event ev{};
  ev.events = EPOLLRDHUP | EPOLLET | (s.relaying || s.closing ? EPOLLIN : 0u) | (s.want_out ? EPOLLOUT : 0u);
  ev.data.u64 = token(flow_id, side);
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, s.fd, &ev);
}

// Moves held bytes from `from` to its peer, never faster than the peer's send buffer takes them
// (that buffer is the flow's only buffer while it is held back). Held bytes arrived after
// everything the verdict redirected, so the first write waits until the peer's send path has taken
// all redirected bytes (its kernel backlog is empty). Each write is published to the verdict
// (wsteer_flow_ctl.relayed): once it equals what was held, the verdict sends new bytes through the
// kernel again, behind the relayed ones.
void SplicedFlows::relay(std::uint64_t flow_id, int from) {
  auto it = flows_.find(flow_id);
  if (it == flows_.end()) {
    relaying_.erase(token(flow_id, from));
    return;
  }
  Flow& flow = *it->second;
  Side& src = flow.sides[from];
  Side& dst = flow.sides[1 - from];
  if (!src.relaying) return;
  for (int round = 0; round < 16; ++round) {  // bounded: other flows get their turn
    if (src.pending_off < src.pending.size()) {
      // The limit holds for relayed bytes too: never more than it unacknowledged by the reader.
      const std::uint64_t in_middle = bytes_in_middle(flow, from);
      const std::uint64_t limit = datapath_.flow_limit();
      if (in_middle >= limit) {
        // Meanwhile keep the sender's new bytes in its TCP queue rather than holding them too:
        // once the agent has written what it holds, they go through the kernel (see below).
        if (!src.paused) src.paused = set_rcvlowat(src.fd, limit / 4);
        return;  // next tick
      }
      const std::size_t room = static_cast<std::size_t>(std::min<std::uint64_t>(limit - in_middle, src.pending.size() - src.pending_off));
      const ssize_t n = ::send(dst.fd, src.pending.data() + src.pending_off, room, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
          if (!dst.want_out) {
            dst.want_out = true;
            update_interest(flow, flow_id, 1 - from);
          }
          return;
        }
        spdlog::debug("flow {}: relaying held bytes failed: {}", flow_id, std::system_category().message(errno));
        finish_locked(flow_id);  // the peer is gone: nothing more can be delivered
        return;
      }
      src.pending_off += static_cast<std::size_t>(n);
      src.relayed += static_cast<std::uint64_t>(n);
      relayed_total_ += static_cast<std::uint64_t>(n);
      datapath_.set_flow_control(src.cookie, dst.written_base, src.relayed);
      continue;
    }
    src.pending.clear();
    src.pending_off = 0;
    if (src.paused) {
      // Everything held so far is written: let the verdict see the queued bytes. It sends them
      // through the kernel (relayed == held) unless the reader is far behind again.
      datapath::kick(src.fd);
      src.paused = false;
    }
    if (dst.want_out) {
      dst.want_out = false;
      update_interest(flow, flow_id, 1 - from);
    }
    const auto side = datapath_.flow_side(src.cookie);
    if (!side) return;
    const std::uint64_t written = datapath::tcp_bytes_written(dst.fd).value_or(0) - dst.written_base;
    if (written < side->bytes + src.relayed) return;  // the peer's backlog is not empty yet: next tick
    src.pending.resize(kRelayChunk);
    const ssize_t n = ::recv(src.fd, src.pending.data(), src.pending.size(), MSG_DONTWAIT);
    if (n > 0) {
      src.pending.resize(static_cast<std::size_t>(n));
      continue;
    }
    src.pending.clear();
    // Nothing readable. Done when everything held has been relayed: the verdict then takes the
    // flow back at its next byte. Read `held` after recv(): the verdict counts a held skb before
    // it is queued, so a count ahead of what recv() saw means more is on its way (EPOLLIN).
    if (const auto now = datapath_.flow_side(src.cookie); now && now->held > src.relayed) return;
    src.relaying = false;
    relaying_.erase(token(flow_id, from));
    update_interest(flow, flow_id, from);
    return;
  }
}

}  // namespace wsteer::proxy

namespace wsteer::proxy {

// The socket `cookie` sent more than the limit that its peer's reader has not taken yet: keep its
// next bytes in its own TCP receive queue until the peer has drained to half the limit. A quarter
// of the limit as SO_RCVLOWAT: what TCP releases at once when the queue reaches it (or nears the
// receive buffer) stays well below the verdict's hard limit, so pauses rarely end in a hold.
void SplicedFlows::on_pause_event(std::uint64_t cookie) {
  auto where = by_cookie_.find(cookie);
  if (where == by_cookie_.end()) return;
  const auto [flow_id, side] = where->second;
  Side& s = flows_.at(flow_id)->sides[side];
  if (s.paused || s.relaying || s.closing) return;
  if (!set_rcvlowat(s.fd, datapath_.flow_limit() / 4)) return;
  s.paused = true;
  paused_.insert(token(flow_id, side));
}

void SplicedFlows::maybe_resume(std::uint64_t flow_id, int side) {
  auto it = flows_.find(flow_id);
  if (it == flows_.end()) {
    paused_.erase(token(flow_id, side));
    return;
  }
  Flow& flow = *it->second;
  if (bytes_in_middle(flow, side) > datapath_.flow_limit() / 2) return;
  // SO_RCVLOWAT back to 1 also runs the verdict over what waited in the queue.
  datapath::kick(flow.sides[side].fd);
  flow.sides[side].paused = false;
  paused_.erase(token(flow_id, side));
}

}  // namespace wsteer::proxy
