// The contract between the agent's control socket and wsteerctl: where the socket lives and how a
// request travels. Header-only so wsteerctl needs nothing of the agent but this file.
//
// One connection carries one request: a JSON object on one line ({"command": "drain", ...}), then
// one JSON object on one line back ({"ok": true, ...} or {"ok": false, "error": "..."}).
#pragma once

#include <cstddef>
#include <filesystem>

namespace wsteer::admin {

// Root-only: the folder is 0700 and the socket 0600, so no other user can open it.
inline const std::filesystem::path kControlSocketDir = "/run/wsteer";
inline constexpr std::size_t kMaxControlMessage = 64 * 1024;

// /run/wsteer/<basename of the bpffs folder>.sock: agents with different --bpffs folders run side
// by side, and wsteerctl --bpffs DIR finds the agent of that folder without another flag.
inline std::filesystem::path default_control_socket(const std::filesystem::path& bpffs) {
  auto base = bpffs.filename();
  if (base.empty()) base = bpffs.parent_path().filename();  // "/sys/fs/bpf/wsteer/"
  if (base.empty()) base = "wsteer";
  return kControlSocketDir / (base.string() + ".sock");
}

}  // namespace wsteer::admin
