// SplicedFlows' half of the agent hand-off (docs/handoff.md): giving quiet flows away whole.
// Picking up a handed-over flow whose bytes the verdict holds is FlowTable::adopt's.
#include "proxy/spliced_flows.h"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>

#include <system_error>
#include <time.h>

namespace wsteer::proxy {

std::vector<SplicedFlow> SplicedFlows::release_all() {
  std::lock_guard lock(mutex_);
  if (!events_detached_) {
    // Two readers of one ring buffer race on its consumer position: from now on the successor
    // reads it. A hold it reports for a flow still here is seen at that flow's adopt() there.
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, datapath_.events_fd(), nullptr) != 0)
      spdlog::warn("hand-off: cannot stop reading wsteer_events: {}", std::system_category().message(errno));
    events_detached_ = true;
  }
  return table_.release_quiet();
}

void SplicedFlows::cancel_release() {
  std::lock_guard lock(mutex_);
  if (!events_detached_) return;
  try {
    watch_loop_fd(datapath_.events_fd(), kEventsToken);
    events_detached_ = false;
  } catch (const std::exception& e) {
    spdlog::error("hand-off failed, and wsteer_events cannot be read again: {}", e.what());
  }
}

void SplicedFlows::sweep_orphans_later() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  std::lock_guard lock(mutex_);
  sweep_before_ns_ = static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(now.tv_nsec);
  sweep_at_ = std::chrono::steady_clock::now() + kOrphanSweepDelay;
}

}  // namespace wsteer::proxy
