// The XDP guard's pinned state in <bpffs>/xdp/ (links, settings, counters, per-source state, lists),
// read with libbpf. Works whether the agent runs or not: pins outlive a killed agent.
#pragma once

#include "core/unique_fd.h"
#include "datapath/xdp_counters.h"
#include "datapath/xdp_lists.h"
#include "wsteer_abi.h"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace wsteer::cli {

struct XdpLinkInfo {
  std::string interface;  // from the pin's name (link_<interface>)
  std::uint32_t link_id = 0;
  std::uint32_t prog_id = 0;
  int ifindex = 0;
  std::string mode;  // native, generic, ... as the kernel reports; "detached" if the link is dead
};

struct XdpSourceEntry {
  wsteer_xdp_source source{};
  wsteer_xdp_source_state state{};
  std::uint32_t open_connections = 0;  // from wsteer_xdp_conns
};

struct XdpSnapshot {
  std::vector<XdpLinkInfo> links;
  wsteer_xdp_config config{};
  datapath::XdpCounters counters{};
  std::vector<datapath::XdpListEntry> deny, allow;
  std::vector<XdpSourceEntry> sources;  // every source with state or open connections
};

class PinnedXdp {
 public:
  // Throws CtlError when <bpffs>/xdp holds no guard (XDP off, or another --bpffs folder).
  explicit PinnedXdp(const std::filesystem::path& bpffs);
  XdpSnapshot snapshot() const;
  const datapath::PinnedXdpLists& lists() const { return *lists_; }

 private:
  std::filesystem::path dir_;
  UniqueFd config_, counters_, sources_, conns_;
  std::optional<datapath::PinnedXdpLists> lists_;
};

}  // namespace wsteer::cli
