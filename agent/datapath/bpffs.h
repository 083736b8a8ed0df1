// The BPF filesystem where the agent pins its maps.
#pragma once

#include "core/unique_fd.h"

#include <chrono>
#include <filesystem>

namespace wsteer::datapath {

// Makes sure `dir`'s parent lies on a bpffs. If /sys/fs/bpf is not mounted and `dir` is under it,
// mounts it (a fresh Debian machine has no bpffs mounted). Throws std::runtime_error otherwise.
void ensure_bpffs(const std::filesystem::path& dir);

// Holds an exclusive flock on a pin folder for the agent's lifetime, so a second agent pointed at
// the same folder fails loudly instead of unpinning the first one's maps. `wait`: how long to
// retry (a predecessor handing over drops its lock during the hand-off). Throws saying so.
UniqueFd lock_pin_dir(const std::filesystem::path& dir, std::chrono::milliseconds wait = {});

}  // namespace wsteer::datapath
