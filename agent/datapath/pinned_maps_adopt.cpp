#include "datapath/pinned_maps_adopt.h"

#include "core/unique_fd.h"
#include "datapath/map_names.h"
#include "datapath/splice_datapath.h"
#include "wsteer_abi.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>

namespace wsteer::datapath {

std::uint32_t SpliceDatapath::abi_version() {
  if (const char* fake = std::getenv("WSTEER_TEST_ABI_VERSION"); fake && *fake)
    return static_cast<std::uint32_t>(std::strtoul(fake, nullptr, 10));
  return WSTEER_ABI_VERSION;
}

void check_pinned_abi(const std::filesystem::path& pin_dir) {
  const auto pin = pin_dir / map_names::abi;
  UniqueFd fd(bpf_obj_get(pin.c_str()));
  if (!fd)
    throw std::runtime_error("cannot take over: no " + pin.string() + " (" + std::strerror(errno) +
                             "): the maps there were made by an agent without hand-off support; upgrade by draining");
  const std::uint32_t zero = 0;
  std::uint32_t pinned = 0;
  if (bpf_map_lookup_elem(fd.get(), &zero, &pinned) != 0)
    throw std::system_error(errno, std::generic_category(), "read " + pin.string());
  if (pinned != SpliceDatapath::abi_version())
    throw std::runtime_error("cannot take over: the maps in " + pin_dir.string() + " have layout version " +
                             std::to_string(pinned) + ", this agent is built for version " +
                             std::to_string(SpliceDatapath::abi_version()) + "; upgrade by draining instead");
}

void reuse_pinned_maps(bpf_object* object, const std::filesystem::path& pin_dir) {
  bpf_map* map = nullptr;
  bpf_object__for_each_map(map, object) {
    // .rodata/.bss are this program's own (its settings), never shared.
    if (bpf_map__is_internal(map)) continue;
    const std::string name = bpf_map__name(map);
    const auto pin = pin_dir / name;
    UniqueFd fd(bpf_obj_get(pin.c_str()));
    if (!fd) throw std::system_error(errno, std::generic_category(), "cannot take over: open pinned map " + pin.string());
    bpf_map_info info{};
    std::uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0)
      throw std::system_error(errno, std::generic_category(), "query pinned map " + pin.string());
    if (info.type != bpf_map__type(map) || info.key_size != bpf_map__key_size(map) ||
        info.value_size != bpf_map__value_size(map) || info.max_entries != bpf_map__max_entries(map) ||
        info.map_flags != bpf_map__map_flags(map))
      throw std::runtime_error("cannot take over: pinned map " + pin.string() + " (type " + std::to_string(info.type) +
                               ", key " + std::to_string(info.key_size) + " B, value " +
                               std::to_string(info.value_size) + " B, " + std::to_string(info.max_entries) +
                               " entries) differs from this agent's (" + std::to_string(bpf_map__value_size(map)) +
                               " B values, " + std::to_string(bpf_map__max_entries(map)) +
                               " entries): same version, other settings (--maglev-size, services)?");
    if (int err = bpf_map__reuse_fd(map, fd.get()); err)  // dups the descriptor
      throw std::system_error(-err, std::generic_category(), "reuse pinned map " + pin.string());
  }
}

}  // namespace wsteer::datapath
