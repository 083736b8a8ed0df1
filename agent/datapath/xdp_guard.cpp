#include "datapath/xdp_guard.h"

#include "datapath/bpffs.h"
#include "datapath/libbpf_log.h"
#include "datapath/pinned_maps_adopt.h"
#include "datapath/xdp_attach_mode.h"
#include "wsteer_xdp_guard.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace wsteer::datapath {
namespace {

constexpr const char* kLinkPrefix = "link_";

[[noreturn]] void fail(int err, const std::string& what) {
  throw std::system_error(err < 0 ? -err : err, std::generic_category(), what);
}

}  // namespace

void XdpGuard::SkeletonDeleter::operator()(wsteer_xdp_guard* skel) const { wsteer_xdp_guard__destroy(skel); }

XdpGuard::XdpGuard(const std::filesystem::path& bpffs, const XdpConfig& config,
                   const std::vector<std::uint16_t>& ports, bool adopt)
    : pin_dir_(xdp_pin_dir(bpffs)), config_(config), ports_(ports), tentative_(adopt) {
  validate_xdp_config(config);
  if (ports.empty() || ports.size() > WSTEER_XDP_MAX_PORTS)
    throw std::invalid_argument("XDP guard: between 1 and " + std::to_string(WSTEER_XDP_MAX_PORTS) + " listen ports");
  route_libbpf_log_to_spdlog();
  ensure_bpffs(bpffs);
  std::filesystem::create_directories(pin_dir_);
  // One agent per folder: a second one would unpin the first one's links. A predecessor handing
  // over lets go of it once it has stopped accepting.
  lock_ = lock_pin_dir(pin_dir_, adopt ? std::chrono::seconds(5) : std::chrono::milliseconds(0));

  try {
    skel_.reset(wsteer_xdp_guard__open());
    if (!skel_) fail(errno, "open the XDP guard's BPF skeleton");
    if (adopt) reuse_pinned_maps(skel_->obj, pin_dir_);
    if (int err = wsteer_xdp_guard__load(skel_.get()); err)
      fail(err, "load the XDP guard (needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON)");
    // Filled before any interface sees the program: it never runs with empty lists.
    fill_maps(config, ports);
    if (!adopt) pin_maps();  // adopt: the predecessor's pins name these maps; ours at confirm_adoption()
    for (const auto& name : config.interfaces) attach(name);
    if (!adopt) drop_stale_links();
  } catch (...) {
    release();  // the destructor does not run for a constructor that throws
    throw;
  }
}

void XdpGuard::confirm_adoption() {
  if (!tentative_) return;
  tentative_ = false;
  pins_ = PinnedObjectMaps::adopt(skel_->obj, pin_dir_);
  drop_stale_links();
}

void XdpGuard::reclaim() {
  lock_ = lock_pin_dir(pin_dir_, std::chrono::seconds(5));
  // The successor reused our maps and left their pins (it was tentative), but wrote its settings
  // into them and may have put its program into our links.
  fill_maps(config_, ports_);  // the successor wrote its settings into the shared maps
  const int prog = bpf_program__fd(skel_->progs.wsteer_xdp_guard);
  for (auto& a : attachments_) {
    if (bpf_link_update(a.link.get(), prog, nullptr) != 0)
      spdlog::error("XDP guard: cannot put our program back on {}: {}", a.interface, std::strerror(errno));
    const auto pin = pin_dir_ / (kLinkPrefix + a.interface);
    if (!std::filesystem::exists(pin) && bpf_obj_pin(a.link.get(), pin.c_str()) != 0)
      spdlog::error("XDP guard: cannot pin {} again: {}", pin.string(), std::strerror(errno));
  }
}

XdpGuard::~XdpGuard() { release(); }

void XdpGuard::release() noexcept {
  // Unpinning drops the pin's reference; closing ours destroys the link, which detaches. Handed
  // over (or adopting, not confirmed): the pins and the links they hold are the other agent's;
  // only a link we made ourselves while adopting is undone.
  const bool ours = !handed_over_ && !tentative_;
  for (auto& a : attachments_) {
    std::error_code ec;
    if (ours || (!handed_over_ && !a.took_over)) std::filesystem::remove(pin_dir_ / (kLinkPrefix + a.interface), ec);
    a.link.reset();
  }
  attachments_.clear();
  if (ours) pins_.reset();
  else pins_.release();
  skel_.reset();
  if (ours) {
    std::error_code ec;
    std::filesystem::remove(pin_dir_, ec);  // only if empty: a stale link pin of ours is never left
    // The --bpffs folder too, if nothing else is in it (with --datapath userspace we created it).
    std::filesystem::remove(pin_dir_.parent_path(), ec);
  }
  lock_.reset();
}

void XdpGuard::fill_maps(const XdpConfig& config, const std::vector<std::uint16_t>& ports) {
  const std::uint32_t zero = 0;
  const auto settings = xdp_map_config(config);
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.wsteer_xdp_config), &zero, &settings, BPF_ANY) != 0)
    fail(errno, "write wsteer_xdp_config");
  const std::uint8_t one = 1;
  for (std::uint16_t port : ports)
    if (bpf_map_update_elem(bpf_map__fd(skel_->maps.wsteer_xdp_ports), &port, &one, BPF_ANY) != 0)
      fail(errno, "write wsteer_xdp_ports (port " + std::to_string(port) + ")");
  // Reused maps (hand-off) hold the predecessor's settings: its ports and config entries that
  // this config dropped go, after the new ones are in; wsteerctl's entries stay.
  std::uint16_t port = 0, next = 0;
  std::vector<std::uint16_t> dropped_ports;
  for (const void* prev = nullptr; bpf_map_get_next_key(bpf_map__fd(skel_->maps.wsteer_xdp_ports), prev, &next) == 0;
       prev = &port) {
    port = next;
    if (std::find(ports.begin(), ports.end(), port) == ports.end()) dropped_ports.push_back(port);
  }
  for (std::uint16_t p : dropped_ports) bpf_map_delete_elem(bpf_map__fd(skel_->maps.wsteer_xdp_ports), &p);
  for (const auto which : {XdpList::deny, XdpList::allow}) {
    const auto& wanted = which == XdpList::deny ? config.deny : config.allow;
    for (const auto& c : wanted) list(which).add(c, WSTEER_XDP_ORIGIN_CONFIG);
    for (const auto& e : list(which).entries())
      if (e.origin == WSTEER_XDP_ORIGIN_CONFIG && std::find(wanted.begin(), wanted.end(), e.cidr) == wanted.end())
        list(which).remove(e.cidr);
  }
}

void XdpGuard::pin_maps() {
  // A dead agent's map pins name maps only its (still attached) program uses: replace them. Its
  // link pins stay until attach() has swapped our program in.
  for (const auto& entry : std::filesystem::directory_iterator(pin_dir_)) {
    if (entry.path().filename().string().rfind(kLinkPrefix, 0) == 0) continue;
    spdlog::warn("XDP guard: replacing stale pin {}", entry.path().string());
    std::filesystem::remove(entry.path());
  }
  pins_ = PinnedObjectMaps(skel_->obj, pin_dir_);
}

void XdpGuard::attach(const std::string& interface) {
  XdpAttachment a;
  a.interface = interface;
  a.ifindex = static_cast<int>(::if_nametoindex(interface.c_str()));
  if (a.ifindex == 0) fail(errno, "XDP guard: interface " + interface);
  const int prog = bpf_program__fd(skel_->progs.wsteer_xdp_guard);
  const auto pin = pin_dir_ / (kLinkPrefix + interface);

  if (std::filesystem::exists(pin)) {
    // A previous agent's link: swap our program in, never leaving the interface unguarded.
    UniqueFd old(bpf_obj_get(pin.c_str()));
    if (old && bpf_link_update(old.get(), prog, nullptr) == 0) {
      a.link = std::move(old);
      a.took_over = true;
    } else {
      // The interface went away and came back (the link is dead): start over.
      spdlog::warn("XDP guard: pinned link {} unusable ({}), attaching anew", pin.string(), std::strerror(errno));
      std::filesystem::remove(pin);
    }
  }
  if (!a.link) {
    LIBBPF_OPTS(bpf_link_create_opts, native, .flags = XDP_FLAGS_DRV_MODE);
    a.link.reset(bpf_link_create(prog, a.ifindex, BPF_XDP, &native));
    if (!a.link) {
      const int why = errno;
      if (why == EBUSY || why == EEXIST)
        fail(why, "XDP guard: " + interface + " already has an XDP program that is not ours (ip link show " + interface + ")");
      spdlog::warn("XDP guard: native XDP on {} failed ({}); falling back to generic XDP, which runs after the "
                   "kernel has built an skb and saves far less",
                   interface, std::strerror(why));
      LIBBPF_OPTS(bpf_link_create_opts, generic, .flags = XDP_FLAGS_SKB_MODE);
      a.link.reset(bpf_link_create(prog, a.ifindex, BPF_XDP, &generic));
      if (!a.link) fail(errno, "XDP guard: attach to " + interface + " (native and generic both failed)");
    }
    if (bpf_obj_pin(a.link.get(), pin.c_str()) != 0) fail(errno, "XDP guard: pin link " + pin.string());
  }
  a.mode = xdp_attach_mode(a.ifindex);
  spdlog::info("XDP guard {} {} ({} mode)", a.took_over ? "took over" : "attached to", interface, a.mode);
  attachments_.push_back(std::move(a));
}

void XdpGuard::drop_stale_links() {
  for (const auto& entry : std::filesystem::directory_iterator(pin_dir_)) {
    const auto name = entry.path().filename().string();
    if (name.rfind(kLinkPrefix, 0) != 0) continue;
    const auto interface = name.substr(std::strlen(kLinkPrefix));
    if (std::find(config_.interfaces.begin(), config_.interfaces.end(), interface) != config_.interfaces.end()) continue;
    spdlog::warn("XDP guard: {} is no longer in xdp-interfaces: detaching the previous agent's program", interface);
    std::filesystem::remove(entry.path());
  }
}

XdpCounters XdpGuard::counters() const { return read_xdp_counters(bpf_map__fd(skel_->maps.wsteer_xdp_counters)); }

int XdpGuard::conns_fd() const { return bpf_map__fd(skel_->maps.wsteer_xdp_conns); }

XdpListMaps XdpGuard::list(XdpList which) const {
  return which == XdpList::deny
             ? XdpListMaps(bpf_map__fd(skel_->maps.wsteer_xdp_deny4), bpf_map__fd(skel_->maps.wsteer_xdp_deny6))
             : XdpListMaps(bpf_map__fd(skel_->maps.wsteer_xdp_allow4), bpf_map__fd(skel_->maps.wsteer_xdp_allow6));
}

}  // namespace wsteer::datapath
