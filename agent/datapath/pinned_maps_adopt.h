// Hand-off, new agent's half of the datapath: checking and reusing the maps a running predecessor
// pinned, so that the sockets of its flows (which live in those maps) stay spliced.
#pragma once

#include <filesystem>

struct bpf_object;  // libbpf

namespace wsteer::datapath {

// Throws std::runtime_error saying why when the maps pinned in `pin_dir` were not made for this
// agent's map layout (SpliceDatapath::abi_version()): missing wsteer_abi pin, or another version.
void check_pinned_abi(const std::filesystem::path& pin_dir);

// Before load: every (non-internal) map of `object` reuses the map pinned under its name in
// `pin_dir` (bpf_map__reuse_fd). Throws when a pin is missing or its type, key, value, size or
// flags differ from what this object declares (e.g. another --maglev-size).
void reuse_pinned_maps(bpf_object* object, const std::filesystem::path& pin_dir);

}  // namespace wsteer::datapath
