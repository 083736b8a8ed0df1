#include "cli/pinned_maps.h"

#include "cli/ctl_error.h"
#include "datapath/map_keys.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>

namespace wsteer::cli {
namespace {

// Every map wsteerctl reads; the names are those of bpf/splice.bpf.c and bpf/lib/stats.h.
constexpr const char* kMaps[] = {"wsteer_targets", "wsteer_spliced",         "wsteer_flows", "wsteer_backends",
                                 "wsteer_maglev",  "wsteer_backend_counters", "wsteer_stats", "wsteer_services"};

bpf_map_info map_info(int fd) {
  bpf_map_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) throw CtlError(std::string("read map info: ") + std::strerror(errno));
  return info;
}

std::string map_type_name(__u32 type) {
  if (const char* name = libbpf_bpf_map_type_str(static_cast<bpf_map_type>(type))) return name;
  return "type " + std::to_string(type);
}

template <typename Value, typename Add>
Value sum_percpu(int fd, std::uint32_t key, Add add) {
  const int ncpus = libbpf_num_possible_cpus();
  std::vector<Value> per_cpu(static_cast<std::size_t>(ncpus > 0 ? ncpus : 1));
  Value total{};
  if (bpf_map_lookup_elem(fd, &key, per_cpu.data()) != 0) return total;
  for (const auto& v : per_cpu) add(total, v);
  return total;
}

}  // namespace

PinnedMaps::PinnedMaps(const std::filesystem::path& bpffs) : folder_(bpffs) {
  std::error_code ec;
  if (!std::filesystem::is_directory(bpffs, ec))
    throw CtlError("no pinned wsteer maps: " + bpffs.string() +
                   " does not exist (is wsteer-agent running with --bpffs " + bpffs.string() + "?)");
  for (const char* name : kMaps) {
    const auto path = bpffs / name;
    const int fd = bpf_obj_get(path.c_str());
    if (fd < 0) {
      const int err = errno;
      if (err == EACCES || err == EPERM)
        throw CtlError("cannot open " + path.string() + ": " + std::strerror(err) + " (wsteerctl needs root)");
      throw CtlError("cannot open " + path.string() + ": " + std::strerror(err) + " (not a wsteer-agent pin folder?)");
    }
    maps_.emplace(name, UniqueFd(fd));
  }
}

int PinnedMaps::fd(const std::string& name) const { return maps_.at(name).get(); }

std::vector<BackendEntry> PinnedMaps::backends() const {
  std::vector<BackendEntry> out;
  for (std::uint32_t id = 0; id < WSTEER_MAX_BACKENDS; ++id) {
    BackendEntry e;
    e.id = id;
    if (bpf_map_lookup_elem(fd("wsteer_backends"), &id, &e.info) != 0 || e.info.state == WSTEER_BACKEND_UNUSED) continue;
    e.info.name[sizeof(e.info.name) - 1] = '\0';
    e.counters = sum_percpu<wsteer_backend_counters>(fd("wsteer_backend_counters"), id,
                                                     [](wsteer_backend_counters& a, const wsteer_backend_counters& b) {
                                                       for (int d = 0; d < WSTEER_DIR_COUNT; ++d) {
                                                         a.bytes[d] += b.bytes[d];
                                                         a.skbs[d] += b.skbs[d];
                                                       }
                                                     });
    out.push_back(e);
  }
  return out;
}

std::map<std::uint32_t, wsteer_service_info> PinnedMaps::services() const {
  std::map<std::uint32_t, wsteer_service_info> out;
  const int map = fd("wsteer_services");
  for (std::uint32_t i = 0; i < WSTEER_MAX_SERVICES; ++i) {
    wsteer_service_info info{};
    if (bpf_map_lookup_elem(map, &i, &info) == 0 && info.in_use) out.emplace(i, info);
  }
  return out;
}

std::vector<std::uint32_t> PinnedMaps::maglev() const {
  const int map = fd("wsteer_maglev");
  const auto size = map_info(map).max_entries;
  std::vector<std::uint32_t> keys(size), values(size);
  // One batch call for the whole array; slot by slot if the kernel refuses batches.
  __u32 count = size, out_batch = 0;
  if (bpf_map_lookup_batch(map, nullptr, &out_batch, keys.data(), values.data(), &count, nullptr) == 0 ||
      (errno == ENOENT && count == size)) {
    std::vector<std::uint32_t> table(size);
    for (__u32 i = 0; i < count; ++i)
      if (keys[i] < size) table[keys[i]] = values[i];
    return table;
  }
  for (std::uint32_t slot = 0; slot < size; ++slot) bpf_map_lookup_elem(map, &slot, &values[slot]);
  return values;
}

wsteer_stats PinnedMaps::stats() const {
  return sum_percpu<wsteer_stats>(fd("wsteer_stats"), 0, [](wsteer_stats& a, const wsteer_stats& b) {
    for (int d = 0; d < WSTEER_DIR_COUNT; ++d) {
      a.bytes[d] += b.bytes[d];
      a.skbs[d] += b.skbs[d];
    }
    a.redirect_failures += b.redirect_failures;
    a.zero_len_dropped += b.zero_len_dropped;
    a.no_flow += b.no_flow;
  });
}

std::vector<FlowSideEntry> PinnedMaps::flow_sides() const {
  std::vector<FlowSideEntry> out;
  const int map = fd("wsteer_flows");
  std::uint64_t key = 0, next = 0;
  const void* prev = nullptr;
  while (bpf_map_get_next_key(map, prev, &next) == 0) {
    FlowSideEntry e;
    e.cookie = next;
    if (bpf_map_lookup_elem(map, &next, &e.side) == 0) out.push_back(e);
    key = next;
    prev = &key;
  }
  return out;
}

bool PinnedMaps::socket_open(std::uint64_t cookie) const {
  std::uint64_t value = 0;  // a sockhash read from userspace yields the socket's cookie
  return bpf_map_lookup_elem(fd("wsteer_targets"), &cookie, &value) == 0;
}

std::vector<AttachedProgram> PinnedMaps::verdict_programs() const {
  std::vector<AttachedProgram> out;
  __u32 ids[8] = {};
  __u32 count = 8, flags = 0;
  if (bpf_prog_query(fd("wsteer_spliced"), BPF_SK_SKB_VERDICT, 0, &flags, ids, &count) != 0) return out;
  for (__u32 i = 0; i < count; ++i) {
    AttachedProgram p;
    p.id = ids[i];
    p.attached_to = "wsteer_spliced (sk_skb verdict)";
    if (const int prog = bpf_prog_get_fd_by_id(ids[i]); prog >= 0) {
      bpf_prog_info info{};
      __u32 len = sizeof(info);
      if (bpf_obj_get_info_by_fd(prog, &info, &len) == 0) p.name = info.name;
      ::close(prog);
    }
    out.push_back(p);
  }
  return out;
}

std::vector<MapFill> PinnedMaps::fill() const {
  std::vector<MapFill> out;
  for (const char* name : kMaps) {
    const int map = fd(name);
    const auto info = map_info(map);
    MapFill f{name, map_type_name(info.type), 0, info.max_entries};
    const std::string n = name;
    if (n == "wsteer_backends" || n == "wsteer_backend_counters") f.used = backends().size();
    else if (n == "wsteer_maglev" || n == "wsteer_stats") f.used = info.max_entries;  // always full
    else f.used = datapath::count_map_keys(map);  // hashes keyed by socket cookie
    out.push_back(f);
  }
  return out;
}

}  // namespace wsteer::cli
