// The BPF filesystem where the agent pins its maps.
#pragma once

#include <filesystem>

namespace wsteer::datapath {

// Makes sure `dir`'s parent lies on a bpffs. If /sys/fs/bpf is not mounted and `dir` is under it,
// mounts it (a fresh Debian machine has no bpffs mounted). Throws std::runtime_error otherwise.
void ensure_bpffs(const std::filesystem::path& dir);

}  // namespace wsteer::datapath
