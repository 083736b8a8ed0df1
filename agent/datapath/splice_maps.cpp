#include "datapath/splice_maps.h"

#include "datapath/map_keys.h"
#include "datapath/map_names.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>

namespace wsteer::datapath {
namespace {

// The maps a reader holds, in the order usage() lists them.
constexpr const char* kReadMaps[] = {map_names::targets, map_names::spliced,          map_names::flows,
                                     map_names::backends, map_names::maglev,           map_names::backend_counters,
                                     map_names::stats,    map_names::services};

template <typename Value>
Value sum_percpu(int fd, std::uint32_t key) {
  const int ncpus = libbpf_num_possible_cpus();
  std::vector<Value> per_cpu(static_cast<std::size_t>(ncpus > 0 ? ncpus : 1));
  Value total{};
  if (bpf_map_lookup_elem(fd, &key, per_cpu.data()) != 0) return total;
  for (const auto& v : per_cpu) add_counters(total, v);
  return total;
}

bpf_map_info map_info(int fd) {
  bpf_map_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0)
    throw std::runtime_error(std::string("read map info: ") + std::strerror(errno));
  return info;
}

std::string map_type_name(__u32 type) {
  if (const char* name = libbpf_bpf_map_type_str(static_cast<bpf_map_type>(type))) return name;
  return "type " + std::to_string(type);
}

}  // namespace

MapOpenError::MapOpenError(std::filesystem::path path, int error)
    : std::runtime_error("cannot open " + path.string() + ": " + std::strerror(error)), path_(std::move(path)),
      error_(error) {}

// Field by field, every field: splice_maps_test checks that a struct of all ones sums
// to all twos, so a field added to wsteer_abi.h but not here fails the unit tier.
void add_counters(wsteer_stats& a, const wsteer_stats& b) {
  for (int d = 0; d < WSTEER_DIR_COUNT; ++d) {
    a.bytes[d] += b.bytes[d];
    a.skbs[d] += b.skbs[d];
  }
  a.redirect_failures += b.redirect_failures;
  a.zero_len_dropped += b.zero_len_dropped;
  a.no_flow += b.no_flow;
  a.held_bytes += b.held_bytes;
  a.holds += b.holds;
  a.frame_walks_lost += b.frame_walks_lost;
  a.close_holds += b.close_holds;
}

void add_counters(wsteer_backend_counters& a, const wsteer_backend_counters& b) {
  for (int d = 0; d < WSTEER_DIR_COUNT; ++d) {
    a.bytes[d] += b.bytes[d];
    a.skbs[d] += b.skbs[d];
  }
}

SpliceMaps SpliceMaps::open_pinned(const std::filesystem::path& folder) {
  SpliceMaps maps;
  for (const char* name : kReadMaps) {
    const auto path = folder / name;
    UniqueFd fd(bpf_obj_get(path.c_str()));
    if (!fd) throw MapOpenError(path, errno);
    maps.fds_.emplace(name, fd.get());
    maps.owned_.push_back(std::move(fd));
  }
  return maps;
}

SpliceMaps SpliceMaps::from_object(const bpf_object* object) {
  SpliceMaps maps;
  for (const char* name : kReadMaps) {
    const bpf_map* map = bpf_object__find_map_by_name(object, name);
    if (!map) throw std::runtime_error(std::string("the splice BPF object has no map ") + name);
    maps.fds_.emplace(name, bpf_map__fd(map));
  }
  return maps;
}

int SpliceMaps::fd(const char* name) const { return fds_.at(name); }

wsteer_stats SpliceMaps::stats() const { return sum_percpu<wsteer_stats>(fd(map_names::stats), 0); }

wsteer_backend_counters SpliceMaps::backend_counters(std::uint32_t backend_id) const {
  return sum_percpu<wsteer_backend_counters>(fd(map_names::backend_counters), backend_id);
}

std::vector<BackendEntry> SpliceMaps::backends() const {
  std::vector<BackendEntry> out;
  const int map = fd(map_names::backends);
  for (std::uint32_t id = 0; id < WSTEER_MAX_BACKENDS; ++id) {
    BackendEntry e;
    e.id = id;
    if (bpf_map_lookup_elem(map, &id, &e.info) != 0 || e.info.state == WSTEER_BACKEND_UNUSED) continue;
    e.info.name[sizeof(e.info.name) - 1] = '\0';
    e.counters = backend_counters(id);
    out.push_back(e);
  }
  return out;
}

std::map<std::uint32_t, wsteer_service_info> SpliceMaps::services() const {
  std::map<std::uint32_t, wsteer_service_info> out;
  const int map = fd(map_names::services);
  for (std::uint32_t i = 0; i < WSTEER_MAX_SERVICES; ++i) {
    wsteer_service_info info{};
    if (bpf_map_lookup_elem(map, &i, &info) == 0 && info.in_use) out.emplace(i, info);
  }
  return out;
}

std::vector<std::uint32_t> SpliceMaps::maglev() const {
  const int map = fd(map_names::maglev);
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
  for (std::uint32_t slot = 0; slot < size; ++slot)
    if (bpf_map_lookup_elem(map, &slot, &values[slot]) != 0) values[slot] = 0;
  return values;
}

std::vector<FlowSideEntry> SpliceMaps::flow_sides() const {
  std::vector<FlowSideEntry> out;
  const int map = fd(map_names::flows);
  std::uint64_t key = 0, next = 0;
  const void* prev = nullptr;
  while (bpf_map_get_next_key(map, prev, &next) == 0) {
    FlowSideEntry e;
    e.cookie = next;
    if (bpf_map_lookup_elem(map, &next, &e.side) == 0) out.push_back(e);  // else deleted meanwhile
    key = next;
    prev = &key;
  }
  return out;
}

std::optional<wsteer_flow_side> SpliceMaps::flow_side(std::uint64_t cookie) const {
  wsteer_flow_side side{};
  if (bpf_map_lookup_elem(fd(map_names::flows), &cookie, &side) != 0) return std::nullopt;
  return side;
}

bool SpliceMaps::socket_open(std::uint64_t cookie) const {
  std::uint64_t value = 0;  // a sockhash read from userspace yields the socket's cookie
  return bpf_map_lookup_elem(fd(map_names::targets), &cookie, &value) == 0;
}

std::vector<std::uint32_t> SpliceMaps::verdict_program_ids() const {
  // The sockmap answers BPF_PROG_QUERY for its verdict slot (kernel >= 5.19): one id at most.
  __u32 ids[8] = {};
  __u32 count = 8, flags = 0;
  if (bpf_prog_query(fd(map_names::spliced), BPF_SK_SKB_VERDICT, 0, &flags, ids, &count) != 0) return {};
  return {ids, ids + std::min<__u32>(count, 8)};
}

MapUsage SpliceMaps::usage(const char* name) const {
  const int map = fd(name);
  const auto info = map_info(map);
  MapUsage u{name, map_type_name(info.type), 0, info.max_entries};
  const std::string n = name;
  if (n == map_names::backends || n == map_names::backend_counters) u.used = backends().size();
  else if (n == map_names::maglev || n == map_names::stats || n == map_names::services) u.used = info.max_entries;
  else u.used = count_map_keys(map);  // hashes keyed by socket cookie
  return u;
}

std::vector<MapUsage> SpliceMaps::usage() const {
  std::vector<MapUsage> out;
  for (const char* name : kReadMaps) out.push_back(usage(name));
  return out;
}

}  // namespace wsteer::datapath
