#include "cli/pinned_xdp.h"

#include "cli/ctl_error.h"
#include "datapath/map_names.h"
#include "datapath/xdp_attach_mode.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include <cerrno>
#include <cstring>
#include <map>

namespace wsteer::cli {
namespace {

UniqueFd open_pin(const std::filesystem::path& path) {
  const int fd = bpf_obj_get(path.c_str());
  if (fd < 0)
    throw CtlError("no XDP guard pinned here: cannot open " + path.string() + " (" + std::strerror(errno) +
                   "); is the agent running with --xdp-interfaces and this --bpffs folder?");
  return UniqueFd(fd);
}

}  // namespace

PinnedXdp::PinnedXdp(const std::filesystem::path& bpffs) : dir_(datapath::xdp_pin_dir(bpffs)) {
  config_ = open_pin(dir_ / datapath::map_names::xdp_config);
  counters_ = open_pin(dir_ / datapath::map_names::xdp_counters);
  sources_ = open_pin(dir_ / datapath::map_names::xdp_sources);
  conns_ = open_pin(dir_ / datapath::map_names::xdp_conns);
  try {
    lists_.emplace(bpffs);
  } catch (const std::exception& e) {
    throw CtlError(e.what());
  }
}

XdpSnapshot PinnedXdp::snapshot() const {
  XdpSnapshot s;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    const auto name = entry.path().filename().string();
    if (name.rfind("link_", 0) != 0) continue;
    XdpLinkInfo link;
    link.interface = name.substr(5);
    UniqueFd fd(bpf_obj_get(entry.path().c_str()));
    bpf_link_info info{};
    __u32 len = sizeof(info);
    if (fd && bpf_obj_get_info_by_fd(fd.get(), &info, &len) == 0) {
      link.link_id = info.id;
      link.prog_id = info.prog_id;
      link.ifindex = static_cast<int>(info.xdp.ifindex);
      link.mode = link.ifindex ? datapath::xdp_attach_mode(link.ifindex) : "detached";
    } else {
      link.mode = "unreadable";
    }
    s.links.push_back(std::move(link));
  }
  const std::uint32_t zero = 0;
  bpf_map_lookup_elem(config_.get(), &zero, &s.config);
  s.counters = datapath::read_xdp_counters(counters_.get());
  s.deny = lists_->list(datapath::XdpList::deny).entries();
  s.allow = lists_->list(datapath::XdpList::allow).entries();

  struct Less {
    bool operator()(const wsteer_xdp_source& a, const wsteer_xdp_source& b) const {
      return std::memcmp(a.addr, b.addr, sizeof(a.addr)) < 0;
    }
  };
  std::map<wsteer_xdp_source, XdpSourceEntry, Less> by_source;
  wsteer_xdp_source key{}, next{};
  const void* prev = nullptr;
  while (bpf_map_get_next_key(sources_.get(), prev, &next) == 0) {
    XdpSourceEntry e;
    e.source = next;
    if (bpf_map_lookup_elem(sources_.get(), &next, &e.state) == 0) by_source[next] = e;
    key = next;
    prev = &key;
  }
  prev = nullptr;
  while (bpf_map_get_next_key(conns_.get(), prev, &next) == 0) {
    std::uint32_t n = 0;
    if (bpf_map_lookup_elem(conns_.get(), &next, &n) == 0) {
      auto& e = by_source[next];
      e.source = next;
      e.open_connections = n;
    }
    key = next;
    prev = &key;
  }
  for (auto& [k, e] : by_source) s.sources.push_back(e);
  return s;
}

}  // namespace wsteer::cli
