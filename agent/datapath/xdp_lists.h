// The XDP guard's allow and deny lists as pinned LPM tries (<bpffs>/xdp/wsteer_xdp_{deny,allow}{4,6}):
// shared by the agent (config entries) and wsteerctl xdp deny|allow|undeny, which write the same
// maps whether or not they opened them from the pins.
#pragma once

#include "core/unique_fd.h"
#include "datapath/xdp_cidr.h"

#include <filesystem>
#include <string>
#include <vector>

namespace wsteer::datapath {

enum class XdpList { deny, allow };
const char* to_string(XdpList list);

// The folder under the agent's --bpffs folder that holds the XDP guard's pins.
std::filesystem::path xdp_pin_dir(const std::filesystem::path& bpffs);

struct XdpListEntry {
  Cidr cidr;
  std::uint32_t origin = 0;  // enum wsteer_xdp_origin
};

// The two tries (IPv4, IPv6) of one list.
class XdpListMaps {
 public:
  XdpListMaps(int fd4, int fd6) : fd4_(fd4), fd6_(fd6) {}
  // Throws std::system_error naming the map.
  void add(const Cidr& cidr, std::uint32_t origin) const;
  // False if the CIDR was not on the list (exactly this prefix; a covering one stays).
  bool remove(const Cidr& cidr) const;
  std::vector<XdpListEntry> entries() const;

 private:
  int fd4_, fd6_;
};

// The pinned tries of both lists, opened by path (wsteerctl). Throws std::runtime_error with the
// path when the agent has not pinned them (XDP off, or another --bpffs folder).
class PinnedXdpLists {
 public:
  explicit PinnedXdpLists(const std::filesystem::path& bpffs);
  XdpListMaps list(XdpList which) const;

 private:
  UniqueFd deny4_, deny6_, allow4_, allow6_;
};

}  // namespace wsteer::datapath
