// What a privileged test process leaves behind when it dies without running its destructors (a
// sanitizer report ends it with _exit, a timeout with SIGKILL): its network namespaces, pinned
// BPF folders, control sockets and temporary folder. Every such name carries the test process's
// pid, so a later run can tell whose they were.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace wsteer::test {

struct LeftoverPlaces {
  std::filesystem::path netns = "/run/netns";
  std::filesystem::path bpffs = "/sys/fs/bpf";
  std::filesystem::path control_sockets = "/run/wsteer";
  std::filesystem::path temp = std::filesystem::temp_directory_path();
};

// The pid in a name made by the tests ("wst<pid>x..." namespaces, "wsteer-test-<pid>-...",
// "wsteer-handoff-<pid>-...", "wsteer-test-health-<pid>-...", "wsteerctl-empty-<pid>",
// "wsteer-cmd-<pid>-...", "wsteer-dptest-<what>-<pid>-<n>", "wsteer-adopttest-<what>-<pid>-<n>"), else 0.
long harness_owner_pid(const std::string& name);

// Removes what processes that no longer exist left in `places`, and returns what it removed.
// Names of live processes, and names this harness does not make, are never touched.
std::vector<std::string> remove_leftovers_of_dead_runs(const LeftoverPlaces& places = {});

}  // namespace wsteer::test
