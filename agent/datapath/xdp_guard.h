// The XDP front door: loads bpf/xdp_guard.bpf.c, fills its maps from the settings, and attaches it
// to each --xdp-interfaces interface through a bpf_link pinned in <bpffs>/xdp/link_<interface>.
// The pin keeps the program attached if the agent dies; the next agent takes the pinned link over
// (bpf_link_update swaps in its own program atomically, so the door never stands open). A clean
// exit (the destructor) unpins everything, which detaches the program.
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
  XdpGuard(const std::filesystem::path& bpffs, const XdpConfig& config, const std::vector<std::uint16_t>& ports);
  ~XdpGuard();
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
  void drop_stale_links(const XdpConfig& config);
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
};

}  // namespace wsteer::datapath
