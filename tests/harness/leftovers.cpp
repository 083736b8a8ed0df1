#include "harness/leftovers.h"

#include <cstdlib>
#include <regex>
#include <system_error>

namespace wsteer::test {
namespace {

bool process_exists(long pid) { return std::filesystem::exists("/proc/" + std::to_string(pid)); }

}  // namespace

long harness_owner_pid(const std::string& name) {
  static const std::regex netns(R"(^wst([0-9]{1,9})x[0-9]+(a|c|b[0-9]+)$)");
  static const std::regex folder(
      R"(^(?:wsteer-test-health|wsteer-test|wsteer-handoff|wsteerctl-empty|wsteer-cmd)-([0-9]{1,9})(?:[-.].*)?$)");
  static const std::regex datapath_test(R"(^wsteer-(?:dptest|adopttest)-[a-z]+-([0-9]{1,9})-[0-9]+$)");
  std::smatch m;
  if (std::regex_match(name, m, netns) || std::regex_match(name, m, folder) || std::regex_match(name, m, datapath_test))
    return std::stol(m[1].str());
  return 0;
}

std::vector<std::string> remove_leftovers_of_dead_runs(const LeftoverPlaces& places) {
  std::vector<std::string> removed;
  const auto dead = [](const std::filesystem::directory_entry& e) {
    const long pid = harness_owner_pid(e.path().filename().string());
    return pid > 0 && !process_exists(pid);
  };
  std::error_code ec;
  // Namespaces first: deleting one takes its veth ends (and any XDP program on them) along.
  for (const auto& e : std::filesystem::directory_iterator(places.netns, ec)) {
    if (!dead(e)) continue;
    const std::string name = e.path().filename().string();
    if (std::system(("ip netns delete " + name + " 2>/dev/null").c_str()) == 0) removed.push_back(e.path().string());
  }
  for (const auto& dir : {places.bpffs, places.control_sockets, places.temp}) {
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      if (!dead(e)) continue;
      std::error_code rm;
      std::filesystem::remove_all(e.path(), rm);
      if (!rm) removed.push_back(e.path().string());
    }
  }
  return removed;
}

}  // namespace wsteer::test
