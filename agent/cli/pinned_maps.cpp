#include "cli/pinned_maps.h"

#include "cli/ctl_error.h"
#include "core/unique_fd.h"
#include "datapath/map_names.h"

#include <bpf/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace wsteer::cli {

datapath::SpliceMaps PinnedMaps::open(const std::filesystem::path& bpffs) {
  std::error_code ec;
  if (!std::filesystem::is_directory(bpffs, ec))
    throw CtlError("no pinned wsteer maps: " + bpffs.string() +
                   " does not exist (is wsteer-agent running with --bpffs " + bpffs.string() + "?)");
  try {
    return datapath::SpliceMaps::open_pinned(bpffs);
  } catch (const datapath::MapOpenError& e) {
    if (e.error() == EACCES || e.error() == EPERM) throw CtlError(std::string(e.what()) + " (wsteerctl needs root)");
    throw CtlError(std::string(e.what()) + " (not a wsteer-agent pin folder?)");
  }
}

PinnedMaps::PinnedMaps(const std::filesystem::path& bpffs) : PinnedMaps(bpffs, open(bpffs)) {}

std::vector<AttachedProgram> PinnedMaps::verdict_programs() const {
  std::vector<AttachedProgram> out;
  for (std::uint32_t id : maps_.verdict_program_ids()) {
    AttachedProgram p;
    p.id = id;
    p.attached_to = datapath::map_names::spliced;
    p.attach_type = "sk_skb_verdict";
    if (const UniqueFd prog(bpf_prog_get_fd_by_id(id)); prog) {
      bpf_prog_info info{};
      __u32 len = sizeof(info);
      if (bpf_obj_get_info_by_fd(prog.get(), &info, &len) == 0) p.name = info.name;
    }
    out.push_back(p);
  }
  return out;
}

std::vector<MapFill> PinnedMaps::fill() const {
  try {
    return maps_.usage();
  } catch (const std::exception& e) {
    throw CtlError(e.what());
  }
}

}  // namespace wsteer::cli
