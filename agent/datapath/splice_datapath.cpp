#include "datapath/splice_datapath.h"

#include "datapath/bpffs.h"
#include "datapath/libbpf_log.h"
#include "datapath/pinned_maps_adopt.h"
#include "datapath/socket_info.h"
#include "wsteer_splice.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <system_error>

namespace wsteer::datapath {
namespace {

[[noreturn]] void throw_bpf(int err, const std::string& what) {
  throw std::system_error(err < 0 ? -err : err, std::generic_category(), what);
}

boost::system::error_code errno_code(int err) {
  return {err < 0 ? -err : err, boost::system::generic_category()};
}

// Deletes `cookie` from a map where it may legitimately be missing already (a sockhash entry
// leaves when its socket closes; wsteer_flow_ctl is set only for some flows). Other errors are
// logged: they would leave a stale entry behind.
void delete_cookie(int map_fd, std::uint64_t cookie, const char* map) {
  if (bpf_map_delete_elem(map_fd, &cookie) != 0 && errno != ENOENT)
    spdlog::warn("remove socket {} from {}: {}", cookie, map, std::strerror(errno));
}

// A socket is in a sockhash until it closes. From userspace a lookup answers with its cookie (an
// 8-byte value) or ENOSPC (a 4-byte one): either way it is there; ENOENT: it is not.
bool in_sockhash(int map_fd, std::uint64_t cookie) {
  std::uint64_t value = 0;
  return bpf_map_lookup_elem(map_fd, &cookie, &value) == 0 || errno != ENOENT;
}

std::function<void(SpliceDatapath&)>& constructed_hook() {
  static std::function<void(SpliceDatapath&)> hook;
  return hook;
}

}  // namespace

void SpliceDatapath::SkeletonDeleter::operator()(wsteer_splice* skel) const { wsteer_splice__destroy(skel); }

void SpliceDatapath::RingBufferDeleter::operator()(ring_buffer* rb) const { ring_buffer__free(rb); }

void SpliceDatapath::set_constructed_hook_for_test(std::function<void(SpliceDatapath&)> hook) {
  constructed_hook() = std::move(hook);
}

SpliceDatapath::SpliceDatapath(const std::filesystem::path& pin_dir, std::uint32_t maglev_size,
                               std::uint64_t flow_limit, std::uint32_t services, bool rebalance, bool adopt)
    : pin_dir_(pin_dir), maglev_size_(maglev_size), services_(services), flow_limit_(flow_limit),
      rebalance_(rebalance) {
  if (services_ == 0 || services_ > WSTEER_MAX_SERVICES)
    throw std::invalid_argument("between 1 and " + std::to_string(WSTEER_MAX_SERVICES) + " services, not " +
                                std::to_string(services_));
  route_libbpf_log_to_spdlog();
  ensure_bpffs(pin_dir_);
  std::filesystem::create_directories(pin_dir_);
  lock_ = lock_pin_dir(pin_dir_, adopt ? std::chrono::seconds(5) : std::chrono::milliseconds(0));
  tentative_ = adopt;
  if (!adopt) folder_ = EmptyFolderRemover(pin_dir_);
  if (adopt) check_pinned_abi(pin_dir_);
  // A dead agent's pins cannot be taken over (its flows died with its descriptors): replace them.
  for (const auto& entry : std::filesystem::directory_iterator(pin_dir_)) {
    if (adopt) break;  // a live predecessor's pins: reused below
    // Subfolders are not ours: xdp/ keeps the XDP guard's link attached across restarts.
    if (entry.is_directory()) continue;
    spdlog::warn("removing stale pin {}", entry.path().string());
    std::filesystem::remove(entry.path());
  }

  skel_.reset(wsteer_splice__open());
  if (!skel_) throw_bpf(errno, "open BPF skeleton");
  if (int err = bpf_map__set_max_entries(skel_->maps.wsteer_maglev, maglev_size_ * services_); err)
    throw_bpf(err, "size wsteer_maglev");
  skel_->rodata->wsteer_flow_limit = flow_limit_;
  skel_->rodata->wsteer_rebalance = rebalance_ ? 1 : 0;
  if (adopt) reuse_pinned_maps(skel_->obj, pin_dir_);
  if (int err = wsteer_splice__load(skel_.get()); err)
    throw_bpf(err, "load BPF programs and create maps (needs CAP_BPF, CAP_NET_ADMIN for the sockhash, CAP_PERFMON "
                   "for bpf_skc_to_tcp_sock)");
  if (!adopt) {
    const std::uint32_t zero = 0, version = abi_version();
    if (bpf_map_update_elem(bpf_map__fd(skel_->maps.wsteer_abi), &zero, &version, BPF_ANY) != 0)
      throw_bpf(errno, "record the map layout version in wsteer_abi");
    pins_ = PinnedObjectMaps(skel_->obj, pin_dir_);
  }  // adopt: the predecessor's pins, ours only at confirm_adoption()
  // libbpf 1.1 does not know the sk_skb/verdict section: attach to the map by hand.
  verdict_ = VerdictAttachment(bpf_program__fd(skel_->progs.wsteer_splice_verdict),
                               bpf_map__fd(skel_->maps.wsteer_spliced), BPF_SK_SKB_VERDICT,
                               "sk_skb verdict to wsteer_spliced");
  // Adopt: replaces the predecessor's program for sockets added from now on; never detached by
  // us before confirm_adoption() (the predecessor takes the map back with its own if we fail).
  if (adopt) verdict_.release();
  maps_.emplace(SpliceMaps::from_object(skel_->obj));
  events_.reset(ring_buffer__new(
      bpf_map__fd(skel_->maps.wsteer_events),
      [](void* ctx, void* data, size_t size) -> int {
        auto* self = static_cast<SpliceDatapath*>(ctx);
        if (size >= sizeof(wsteer_event) && self->event_handler_)
          self->event_handler_(*static_cast<const wsteer_event*>(data));
        return 0;
      },
      this, nullptr));
  if (!events_) throw_bpf(errno, "open wsteer_events ring buffer");
  if (constructed_hook()) constructed_hook()(*this);
}

// The members release everything in reverse order of construction (see the header).
SpliceDatapath::~SpliceDatapath() = default;

// Until now the adopting datapath owned nothing it could undo: a successor that fails (throws,
// exits) before the hand-off is done must not unpin or detach what its predecessor serves with.
void SpliceDatapath::confirm_adoption() {
  if (!tentative_) return;
  tentative_ = false;
  folder_ = EmptyFolderRemover(pin_dir_);
  pins_ = PinnedObjectMaps::adopt(skel_->obj, pin_dir_);
  verdict_ = VerdictAttachment::assume(bpf_program__fd(skel_->progs.wsteer_splice_verdict),
                                       bpf_map__fd(skel_->maps.wsteer_spliced), BPF_SK_SKB_VERDICT);
}

void SpliceDatapath::reattach_verdict() {
  verdict_.release();  // the map names the successor's program now: nothing of ours to detach
  verdict_ = VerdictAttachment(bpf_program__fd(skel_->progs.wsteer_splice_verdict),
                               bpf_map__fd(skel_->maps.wsteer_spliced), BPF_SK_SKB_VERDICT,
                               "sk_skb verdict to wsteer_spliced (taken back)");
}

void SpliceDatapath::relock() { lock_ = lock_pin_dir(pin_dir_, std::chrono::seconds(5)); }

void SpliceDatapath::hand_over() {
  // The successor reused the maps (so the pins name them) and attached its verdict to
  // wsteer_spliced; the sockets already in the map keep running the program they joined with
  // (a psock copies the map's programs when it is created). Nothing of that may be undone here.
  verdict_.release();
  pins_.release();
  folder_.release();
  lock_.reset();
}

boost::system::error_code SpliceDatapath::add_targets(FlowSockets& flow, const FlowMeta& meta) {
  auto cc = socket_cookie(flow.client_fd);
  auto bc = socket_cookie(flow.backend_fd);
  if (!cc || !bc) return errno_code(errno);
  flow.client_cookie = *cc;
  flow.backend_cookie = *bc;

  const int flows = bpf_map__fd(skel_->maps.wsteer_flows);
  wsteer_flow_side side{};
  side.created_ns = 0;
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  side.created_ns = static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000ULL + now.tv_nsec;
  std::memcpy(side.client_addr, meta.client_addr.data(), sizeof(side.client_addr));
  side.client_port = meta.client_port;
  side.backend_id = meta.backend_id;

  side.peer_cookie = flow.backend_cookie;
  side.direction = WSTEER_DIR_CLIENT_TO_BACKEND;
  if (bpf_map_update_elem(flows, &flow.client_cookie, &side, BPF_NOEXIST) != 0) return errno_code(errno);
  side.peer_cookie = flow.client_cookie;
  side.direction = WSTEER_DIR_BACKEND_TO_CLIENT;
  if (bpf_map_update_elem(flows, &flow.backend_cookie, &side, BPF_NOEXIST) != 0) {
    auto ec = errno_code(errno);
    delete_cookie(flows, flow.client_cookie, "wsteer_flows");
    return ec;
  }

  // A socket that already hung up cannot join a sockhash (EOPNOTSUPP): the caller fails the flow.
  const int targets = bpf_map__fd(skel_->maps.wsteer_targets);
  for (auto [fd, cookie] : {std::pair{flow.client_fd, flow.client_cookie},
                            std::pair{flow.backend_fd, flow.backend_cookie}}) {
    std::uint64_t value = static_cast<std::uint64_t>(fd);
    if (bpf_map_update_elem(targets, &cookie, &value, BPF_ANY) != 0) {
      auto ec = errno_code(errno);
      remove(flow);
      return ec;
    }
  }
  return {};
}

boost::system::error_code SpliceDatapath::splice(int fd, std::uint64_t cookie) {
  std::uint64_t value = static_cast<std::uint64_t>(fd);
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.wsteer_spliced), &cookie, &value, BPF_ANY) != 0)
    return errno_code(errno);
  if (!kick(fd)) return errno_code(errno);
  return {};
}

void SpliceDatapath::remove(const FlowSockets& flow) {
  if (on_remove_) on_remove_(flow);
  for (std::uint64_t cookie : {flow.client_cookie, flow.backend_cookie}) {
    delete_cookie(bpf_map__fd(skel_->maps.wsteer_spliced), cookie, "wsteer_spliced");
    delete_cookie(bpf_map__fd(skel_->maps.wsteer_targets), cookie, "wsteer_targets");
    delete_cookie(bpf_map__fd(skel_->maps.wsteer_flows), cookie, "wsteer_flows");
    delete_cookie(bpf_map__fd(skel_->maps.wsteer_flow_ctl), cookie, "wsteer_flow_ctl");
  }
}

std::size_t SpliceDatapath::sweep_orphans(const std::function<bool(std::uint64_t)>& owned,
                                          std::uint64_t made_before_ns) {
  const int flows = bpf_map__fd(skel_->maps.wsteer_flows);
  std::vector<std::uint64_t> orphans;
  std::uint64_t cookie = 0, next = 0;
  for (const void* prev = nullptr; bpf_map_get_next_key(flows, prev, &next) == 0; prev = &cookie) {
    cookie = next;
    wsteer_flow_side side{};
    if (bpf_map_lookup_elem(flows, &cookie, &side) != 0) continue;  // removed meanwhile
    if (side.created_ns >= made_before_ns || owned(cookie)) continue;
    if (in_sockhash(bpf_map__fd(skel_->maps.wsteer_spliced), cookie) ||
        in_sockhash(bpf_map__fd(skel_->maps.wsteer_targets), cookie))
      continue;  // the socket lives: some agent's flow
    orphans.push_back(cookie);
  }
  for (std::uint64_t c : orphans) {
    delete_cookie(flows, c, "wsteer_flows");
    delete_cookie(bpf_map__fd(skel_->maps.wsteer_flow_ctl), c, "wsteer_flow_ctl");
  }
  return orphans.size();
}

boost::system::error_code SpliceDatapath::set_flow_control(std::uint64_t cookie, std::uint64_t peer_written_base,
                                                           std::uint64_t relayed, bool close) {
  wsteer_flow_ctl ctl{};
  ctl.peer_written_base = peer_written_base;
  ctl.relayed = relayed;
  ctl.close = close ? 1 : 0;
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.wsteer_flow_ctl), &cookie, &ctl, BPF_ANY) != 0)
    return errno_code(errno);
  return {};
}

boost::system::error_code SpliceDatapath::seed_frames(std::uint64_t cookie, const wsteer_frame_state& frames) {
  const int fd = bpf_map__fd(skel_->maps.wsteer_flows);
  wsteer_flow_side side{};
  if (bpf_map_lookup_elem(fd, &cookie, &side) != 0) return errno_code(errno);
  side.frames = frames;
  if (bpf_map_update_elem(fd, &cookie, &side, BPF_EXIST) != 0) return errno_code(errno);
  return {};
}

std::optional<wsteer_flow_side> SpliceDatapath::flow_side(std::uint64_t cookie) const {
  return maps_->flow_side(cookie);
}

int SpliceDatapath::events_fd() const { return ring_buffer__epoll_fd(events_.get()); }

void SpliceDatapath::consume_events(const std::function<void(const wsteer_event&)>& handler) {
  event_handler_ = handler;
  if (int err = ring_buffer__consume(events_.get()); err < 0)
    spdlog::warn("read wsteer_events: {}", std::strerror(-err));
  event_handler_ = nullptr;
}

std::uint64_t SpliceDatapath::redirected_bytes(std::uint64_t cookie) const {
  const auto side = maps_->flow_side(cookie);
  return side ? side->bytes : 0;
}

SpliceTotals SpliceDatapath::totals() const { return {maps_->stats()}; }

wsteer_backend_counters SpliceDatapath::backend_counters(std::uint32_t backend_id) const {
  return maps_->backend_counters(backend_id);
}

void SpliceDatapath::publish_backend(std::uint32_t id, const wsteer_backend_info& info) {
  if (id >= WSTEER_MAX_BACKENDS) {
    spdlog::warn("publish backend {}: ids stop at {}", id, WSTEER_MAX_BACKENDS - 1);
    return;
  }
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.wsteer_backends), &id, &info, BPF_ANY) != 0)
    spdlog::warn("publish backend {} in wsteer_backends: {}", id, std::strerror(errno));
}

void SpliceDatapath::publish_service(std::uint32_t service, const wsteer_service_info& info) {
  if (service >= services_) {
    spdlog::warn("publish service {}: this datapath was sized for {}", service, services_);
    return;
  }
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.wsteer_services), &service, &info, BPF_ANY) != 0)
    spdlog::warn("publish service {} in wsteer_services: {}", service, std::strerror(errno));
}

void SpliceDatapath::publish_maglev(const std::vector<std::uint32_t>& table, std::uint32_t service) {
  if (service >= services_) {
    spdlog::warn("publish Maglev table of service {}: this datapath was sized for {}", service, services_);
    return;
  }
  const int fd = bpf_map__fd(skel_->maps.wsteer_maglev);
  std::uint32_t n = std::min<std::uint32_t>(static_cast<std::uint32_t>(table.size()), maglev_size_);
  std::vector<std::uint32_t> slots(n);
  for (std::uint32_t slot = 0; slot < n; ++slot) slots[slot] = service * maglev_size_ + slot;
  // One syscall for the whole table instead of one per slot.
  if (bpf_map_update_batch(fd, slots.data(), table.data(), &n, nullptr) != 0)
    spdlog::warn("publish Maglev table of service {} in wsteer_maglev: {}", service, std::strerror(errno));
}

}  // namespace wsteer::datapath
