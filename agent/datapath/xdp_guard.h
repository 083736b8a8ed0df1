// The XDP front door: loads bpf/xdp_guard.bpf.c, fills its maps from the settings, and attaches it
// to each --xdp-interfaces interface through a bpf_link pinned in <bpffs>/xdp/link_<interface>.
// The pin keeps the program attached if the agent dies; the next agent takes the pinned link over
// (bpf_link_update swaps in its own program atomically, so the door never stands open). A clean
// exit (the destructor) unpins everything, which detaches the program. On a hand-off (docs/handoff.md)
// the successor reuses the predecessor's maps (lists, counters and connection counts carry over)
// and swaps its program into the same links; the predecessor then leaves pins and links alone.
#pragma once

#include "core/unique_fd.h"
#include "datapath/kernel_objects.h"
#include "datapath/xdp_config.h"
#include "datapath/xdp_counters.h"
#include "datapath/xdp_lists.h"
#include "wsteer_abi.h"

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

struct wsteer_xdp_guard;  // the bpftool skeleton

namespace wsteer::datapath {

struct XdpAttachment {
  std::string interface;
  int ifindex = 0;
  std::string mode;        // "native" or "generic", as the kernel reports it
  bool took_over = false;  // a pinned link left by a previous agent was reused
  UniqueFd link;
};

class XdpGuard {
 public:
  // `ports`: the agent's listen ports (the only traffic judged). Throws std::system_error or
  // std::runtime_error naming the interface or map on any failure; nothing stays attached then.
  // `adopt` (hand-off, new agent): reuse the maps a live predecessor pinned instead of replacing
  // them, waiting briefly for its flock; tentative (nothing of the predecessor's is undone by our
  // destructor) until confirm_adoption().
  XdpGuard(const std::filesystem::path& bpffs, const XdpConfig& config, const std::vector<std::uint16_t>& ports,
           bool adopt = false);
  ~XdpGuard();  // detaches, unpins, removes the folder, unlocks (only closes descriptors after hand_over())

  // Hand-off, old agent. release_lock(): the successor may take the folder's flock. hand_over():
  // the successor's program runs in our links and its pins name our maps: leave both. reclaim():
  // the hand-off failed: lock again, put our program back into every link, pin links and maps again.
  void release_lock() { lock_.reset(); }
  void hand_over() { handed_over_ = true; }
  void reclaim();
  // Hand-off, new agent: the pins and links are ours now; links of interfaces no longer configured go.
  void confirm_adoption();
  XdpGuard(const XdpGuard&) = delete;
  XdpGuard& operator=(const XdpGuard&) = delete;

  const std::vector<XdpAttachment>& attachments() const { return attachments_; }
  const std::filesystem::path& pin_dir() const { return pin_dir_; }
  // wsteer_xdp_counters summed over CPUs, by enum wsteer_xdp_reason.
  XdpCounters counters() const;
  int conns_fd() const;
  XdpListMaps list(XdpList which) const;

 private:
  void fill_maps(const XdpConfig& config, const std::vector<std::uint16_t>& ports);
  void pin_maps();
  void attach(const std::string& interface);
  void drop_stale_links();
  // Unpins and detaches what this object attached, unpins its maps, removes the folder if empty.
  void release() noexcept;

  struct SkeletonDeleter {
    void operator()(wsteer_xdp_guard* skel) const;
  };

  std::filesystem::path pin_dir_;
  // In the order they are made; release() (and so the destructor) undoes them in reverse.
  UniqueFd lock_;
  std::unique_ptr<wsteer_xdp_guard, SkeletonDeleter> skel_;
  PinnedObjectMaps pins_;
  std::vector<XdpAttachment> attachments_;
  XdpConfig config_;                    // what fill_maps() writes, again after a failed hand-off
  std::vector<std::uint16_t> ports_;
  bool tentative_ = false;               // adopting, until confirm_adoption()
  bool handed_over_ = false;
};

}  // namespace wsteer::datapath
