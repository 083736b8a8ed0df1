#include "proxy/spliced_flows.h"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <array>
#include <system_error>

namespace wsteer::proxy {

SplicedFlows::SplicedFlows(datapath::SpliceDatapath& datapath, metrics::AgentMetrics* metrics,
                           std::chrono::milliseconds drain_timeout)
    : datapath_(datapath), metrics_(metrics), epoll_(::epoll_create1(EPOLL_CLOEXEC)), wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      ops_(datapath, epoll_.get()), table_(ops_, drain_timeout) {
  if (!epoll_ || !wake_) throw std::system_error(errno, std::generic_category(), "spliced flows: epoll/eventfd");
  watch_loop_fd(wake_.get(), kWakeToken);
  watch_loop_fd(datapath_.events_fd(), kEventsToken);
  thread_ = std::thread([this] { run(); });
}

void SplicedFlows::watch_loop_fd(int fd, std::uint64_t token) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = token;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
    throw std::system_error(errno, std::generic_category(), "spliced flows: epoll_ctl");
}

SplicedFlows::~SplicedFlows() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  std::uint64_t one = 1;
  if (::write(wake_.get(), &one, sizeof(one)) != sizeof(one))
    spdlog::error("spliced flows: cannot wake the flow thread: {}", std::system_category().message(errno));
  thread_.join();
  close_all();
}

void SplicedFlows::adopt(SplicedFlow flow) {
  std::lock_guard lock(mutex_);
  table_.adopt(std::move(flow));
  table_.reap();  // a flow whose sockets could not be watched ends at once
}

std::size_t SplicedFlows::size() const {
  std::lock_guard lock(mutex_);
  return table_.size();
}

SplicedFlowStats SplicedFlows::stats() const {
  std::lock_guard lock(mutex_);
  SplicedFlowStats s = table_.stats_without_middle();
  s.bytes_in_middle = middle_;
  return s;
}

void SplicedFlows::close_all() {
  std::lock_guard lock(mutex_);
  table_.end_all();
  snapshot();  // the last bytes read reach the metric
}

std::vector<RebalanceCandidate> SplicedFlows::rebalance_candidates() const {
  std::lock_guard lock(mutex_);
  return table_.rebalance_candidates();
}

bool SplicedFlows::request_close(std::uint64_t flow_id) {
  std::lock_guard lock(mutex_);
  return table_.request_close(flow_id);
}

void SplicedFlows::set_close_timeout(std::chrono::milliseconds t) {
  std::lock_guard lock(mutex_);
  table_.set_close_timeout(t);
}

std::unordered_map<const steering::Steering*, RebalanceCounts> SplicedFlows::rebalance_counts() const {
  std::lock_guard lock(mutex_);
  return table_.rebalance_counts();
}

std::size_t SplicedFlows::closing() const {
  std::lock_guard lock(mutex_);
  return table_.closing();
}

void SplicedFlows::run() {
  std::array<epoll_event, 256> events{};
  for (;;) {
    bool busy;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      busy = table_.busy();
    }
    // Poll fast while a half-close waits for bytes to drain or a relay waits for the peer's
    // backlog to empty, otherwise sleep until an event (or the next stats snapshot).
    const int timeout_ms = busy ? 1 : static_cast<int>(kStatsPeriod.count());
    const int n = ::epoll_wait(epoll_.get(), events.data(), events.size(), timeout_ms);
    if (n < 0 && errno != EINTR) {
      spdlog::critical("spliced flows: epoll_wait failed: {}", std::system_category().message(errno));
      return;
    }
    std::lock_guard lock(mutex_);
    for (int i = 0; i < n; ++i) {
      const auto token = events[i].data.u64;
      if (token == kWakeToken) continue;
      if (token == kEventsToken) {
        datapath_.consume_events([this](const wsteer_event& ev) { table_.on_datapath_event(ev); });
        continue;
      }
      table_.on_socket(token, KernelFlowOps::events_of(events[i].events));
    }
    table_.tick();
    if (std::chrono::steady_clock::now() - middle_at_ >= kStatsPeriod) snapshot();
    if (sweep_at_ && std::chrono::steady_clock::now() >= *sweep_at_) {
      sweep_at_.reset();
      const auto n = datapath_.sweep_orphans([this](std::uint64_t c) { return table_.owns(c); }, sweep_before_ns_);
      spdlog::info("hand-off: removed the map entries of {} sockets whose flows died with the other agent", n);
    }
  }
}

void SplicedFlows::snapshot() {
  const auto s = table_.stats();
  middle_ = s.bytes_in_middle;
  middle_at_ = std::chrono::steady_clock::now();
  if (!metrics_) return;
  // Bytes read off a client socket travel to the backend, and the other way round.
  const metrics::Direction direction[2] = {metrics::Direction::client_to_backend, metrics::Direction::backend_to_client};
  for (int side : {0, 1}) {
    if (s.read_bytes[side] > read_counted_[side]) metrics_->userspace_bytes(direction[side], s.read_bytes[side] - read_counted_[side]);
    read_counted_[side] = s.read_bytes[side];
  }
}

}  // namespace wsteer::proxy
