#include "proxy/spliced_flows.h"

#include "datapath/socket_info.h"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <array>
#include <system_error>
#include <vector>

namespace wsteer::proxy {
namespace {

constexpr int kClient = 0;
constexpr int kBackend = 1;
constexpr std::uint64_t kWakeToken = ~0ULL;

std::uint64_t token(std::uint64_t flow_id, int side) { return flow_id << 1 | static_cast<std::uint64_t>(side); }

}  // namespace

struct SplicedFlows::Side {
  int fd = -1;
  std::uint64_t cookie = 0;
  std::uint64_t written_base = 0;
  bool eof = false;         // the peer behind this socket sent its FIN
  bool write_shut = false;  // we shut this socket's write side (propagated the other's FIN)
};

struct SplicedFlows::Flow {
  SplicedFlow owned;
  std::array<Side, 2> sides;
  // Half-close in progress for a side that hit EOF: its bytes must reach the peer first.
  std::array<std::chrono::steady_clock::time_point, 2> drain_deadline{};
  std::array<std::uint64_t, 2> last_progress{};
  std::array<std::uint64_t, 2> last_redirected{~0ULL, ~0ULL};
};

SplicedFlows::SplicedFlows(datapath::SpliceDatapath& datapath, ClosedHandler on_closed,
                           std::chrono::milliseconds drain_timeout)
    : datapath_(datapath), on_closed_(std::move(on_closed)), drain_timeout_(drain_timeout),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)), wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!epoll_ || !wake_) throw std::system_error(errno, std::generic_category(), "epoll/eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeToken;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev);
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
  flow->sides[kClient] = {owned.sockets.client_fd, owned.sockets.client_cookie, owned.client_written_base};
  flow->sides[kBackend] = {owned.sockets.backend_fd, owned.sockets.backend_cookie, owned.backend_written_base};
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
}

std::size_t SplicedFlows::size() const {
  std::lock_guard lock(mutex_);
  return flows_.size();
}

SplicedFlowStats SplicedFlows::stats() const {
  std::lock_guard lock(mutex_);
  SplicedFlowStats s{flows_.size(), 0};
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
      busy = !half_closing_.empty();
    }
    // Poll fast while a half-close waits for bytes to drain, otherwise sleep until an event.
    const int n = ::epoll_wait(epoll_.get(), events.data(), events.size(), busy ? 2 : 1000);
    std::lock_guard lock(mutex_);
    for (int i = 0; i < n; ++i) {
      const auto tok = events[i].data.u64;
      if (tok == kWakeToken) continue;
      on_event(tok >> 1, static_cast<int>(tok & 1), events[i].events);
    }
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
  const std::uint64_t sent_total = datapath_.redirected_bytes(src.cookie) + dst.written_base;
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
  const std::uint64_t redirected = datapath_.redirected_bytes(src.cookie);
  const std::uint64_t written = datapath::tcp_bytes_written(dst.fd).value_or(0) - dst.written_base;
  const bool settled = redirected == flow.last_redirected[from];
  flow.last_redirected[from] = redirected;
  const auto now = std::chrono::steady_clock::now();
  const bool done = written >= redirected && settled;
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
    spdlog::warn("flow to backend {}: {} bytes stuck for {} ms, closing anyway", flow.owned.backend_id,
                 redirected - std::min(written, redirected), drain_timeout_.count());
  }
  spdlog::debug("flow to backend {}: FIN from {} propagated after {} redirected bytes", flow.owned.backend_id,
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
  for (const auto& side : flow->sides) {
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, side.fd, nullptr);
    by_cookie_.erase(side.cookie);
  }
  datapath_.remove(flow->owned.sockets);
  const auto backend_id = flow->owned.backend_id;
  flow.reset();  // closes both descriptors
  on_closed_(backend_id);
}

}  // namespace wsteer::proxy
