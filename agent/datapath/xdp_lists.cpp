#include "datapath/xdp_lists.h"

#include "datapath/map_names.h"

#include <bpf/bpf.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace wsteer::datapath {

const char* to_string(XdpList list) { return list == XdpList::deny ? "deny" : "allow"; }

std::filesystem::path xdp_pin_dir(const std::filesystem::path& bpffs) { return bpffs / map_names::xdp_folder; }

void XdpListMaps::add(const Cidr& cidr, std::uint32_t origin) const {
  int rc;
  if (cidr.v6) {
    const auto key = lpm6_key(cidr);
    rc = bpf_map_update_elem(fd6_, &key, &origin, BPF_ANY);
  } else {
    const auto key = lpm4_key(cidr);
    rc = bpf_map_update_elem(fd4_, &key, &origin, BPF_ANY);
  }
  if (rc != 0) throw std::system_error(errno, std::generic_category(), "add " + to_string(cidr) + " to its LPM trie");
}

bool XdpListMaps::remove(const Cidr& cidr) const {
  int rc;
  if (cidr.v6) {
    const auto key = lpm6_key(cidr);
    rc = bpf_map_delete_elem(fd6_, &key);
  } else {
    const auto key = lpm4_key(cidr);
    rc = bpf_map_delete_elem(fd4_, &key);
  }
  if (rc == 0) return true;
  if (errno == ENOENT) return false;
  throw std::system_error(errno, std::generic_category(), "remove " + to_string(cidr) + " from its LPM trie");
}

namespace {

// Walks one trie with bpf_map_get_next_key (LPM tries support it from a null key).
template <typename Key>
void collect(int fd, std::vector<XdpListEntry>& out) {
  Key key{}, next{};
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    std::uint32_t origin = 0;
    if (bpf_map_lookup_elem(fd, &next, &origin) == 0) out.push_back({cidr_of(next), origin});
    key = next;
    prev = &key;
  }
}

UniqueFd open_pin(const std::filesystem::path& path) {
  const int fd = bpf_obj_get(path.c_str());
  if (fd < 0)
    throw std::runtime_error("cannot open " + path.string() + ": " + std::strerror(errno) +
                             " (is the agent running with --xdp-interfaces and this --bpffs folder?)");
  return UniqueFd(fd);
}

}  // namespace

std::vector<XdpListEntry> XdpListMaps::entries() const {
  std::vector<XdpListEntry> out;
  collect<wsteer_xdp_lpm4>(fd4_, out);
  collect<wsteer_xdp_lpm6>(fd6_, out);
  return out;
}

PinnedXdpLists::PinnedXdpLists(const std::filesystem::path& bpffs) {
  const auto dir = xdp_pin_dir(bpffs);
  deny4_ = open_pin(dir / map_names::xdp_deny4);
  deny6_ = open_pin(dir / map_names::xdp_deny6);
  allow4_ = open_pin(dir / map_names::xdp_allow4);
  allow6_ = open_pin(dir / map_names::xdp_allow6);
}

XdpListMaps PinnedXdpLists::list(XdpList which) const {
  return which == XdpList::deny ? XdpListMaps(deny4_.get(), deny6_.get()) : XdpListMaps(allow4_.get(), allow6_.get());
}

}  // namespace wsteer::datapath
