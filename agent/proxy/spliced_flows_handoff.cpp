// SplicedFlows' half of the agent hand-off (docs/handoff.md): giving quiet flows away whole, and
// picking up a handed-over flow whose bytes the verdict holds.
#include "proxy/spliced_flows.h"
#include "proxy/spliced_flows_internal.h"

#include "datapath/socket_info.h"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>

namespace wsteer::proxy {
using namespace flows_detail;

std::vector<SplicedFlow> SplicedFlows::release_all() {
  std::lock_guard lock(mutex_);
  if (!events_detached_) {
    // Two readers of one ring buffer race on its consumer position: from now on the successor
    // reads it. A hold it reports for a flow we still have is seen at that flow's adopt().
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, datapath_.events_fd(), nullptr);
    events_detached_ = true;
  }
  std::vector<SplicedFlow> out;
  for (auto it = flows_.begin(); it != flows_.end();) {
    const std::uint64_t id = it->first;
    Flow& flow = *it->second;
    // Busy: bytes in this process (held bytes read, not yet written to the peer) or a close frame
    // being placed. Only the process that holds them can finish that; it is handed over once
    // quiet. A relay with nothing pending is not busy: the held/relayed counts it works from are
    // in the maps and the metadata, and the successor's adopt() picks it up.
    bool busy = flow.close.has_value() || closing_.contains(id);
    for (const Side& s : flow.sides) busy = busy || s.closing || s.pending_off < s.pending.size();
    if (busy) {
      ++it;
      continue;
    }
    for (int side : {kClient, kBackend}) {
      Side& s = flow.sides[side];
      if (s.paused) {
        // A pause lives in this process's bookkeeping only: let the verdict see the queue again;
        // if the reader is still behind, it pauses or holds again and tells the successor.
        datapath::kick(s.fd);
        s.paused = false;
        paused_.erase(token(id, side));
      }
      relaying_.erase(token(id, side));
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, s.fd, nullptr);
      by_cookie_.erase(s.cookie);
    }
    // A FIN seen but not yet propagated is seen again by the successor: epoll reports a socket
    // that is already half-closed when it is added.
    half_closing_.erase(id);
    flow.owned.client_relayed = flow.sides[kClient].relayed;
    flow.owned.backend_relayed = flow.sides[kBackend].relayed;
    out.push_back(std::move(flow.owned));
    it = flows_.erase(it);
  }
  return out;
}

void SplicedFlows::cancel_release() {
  std::lock_guard lock(mutex_);
  if (!events_detached_) return;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kEventsToken;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, datapath_.events_fd(), &ev);
  events_detached_ = false;
}

// Called by adopt() with the lock held. A flow handed over while the verdict holds its bytes
// would wait forever: the hold event went to the previous agent (or was read by nobody).
void SplicedFlows::resume_adopted(std::uint64_t flow_id) {
  Flow& flow = *flows_.at(flow_id);
  for (const Side& s : flow.sides) {
    const auto side = datapath_.flow_side(s.cookie);
    if (side && side->held > s.relayed) {
      spdlog::debug("adopted flow {}: {} held bytes to relay", flow_id, side->held - s.relayed);
      on_hold_event(s.cookie);
      if (!flows_.contains(flow_id)) return;
    }
  }
}

}  // namespace wsteer::proxy
