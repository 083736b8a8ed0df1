// The harness removes what a dead test process left behind (harness/leftovers.h): its
// namespaces and pinned folders go, anything of a live process or not named by the harness stays.
#include "harness/leftovers.h"
#include "harness/privileges.h"

#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <random>

namespace wsteer::test {
namespace {

namespace fs = std::filesystem;

// A pid no process can have: above the kernel's pid_max.
long impossible_pid() {
  long max = 4194304;
  std::ifstream("/proc/sys/kernel/pid_max") >> max;
  return max + 1;
}

TEST(Leftovers, NamesCarryTheirOwnersPid) {
  EXPECT_EQ(harness_owner_pid("wst12345x678a"), 12345);
  EXPECT_EQ(harness_owner_pid("wst12345x678b2"), 12345);
  EXPECT_EQ(harness_owner_pid("wsteer-test-4242-0-wsteer-test-4242-99"), 4242);
  EXPECT_EQ(harness_owner_pid("wsteer-test-4242-0-wsteer-test-4242-99.sock"), 4242);
  EXPECT_EQ(harness_owner_pid("wsteer-handoff-77-wsteer-test-77-1"), 77);
  EXPECT_EQ(harness_owner_pid("wsteer-test-health-88-x"), 88);
  EXPECT_EQ(harness_owner_pid("wsteerctl-empty-99"), 99);
  EXPECT_EQ(harness_owner_pid("wsteer-cmd-99-123456.out"), 99);
  EXPECT_EQ(harness_owner_pid("wsteer-dptest-unconfirmed-321-4"), 321);
  EXPECT_EQ(harness_owner_pid("wsteer-adopttest-ok-321-0"), 321);
  // Not the harness's: never touched.
  EXPECT_EQ(harness_owner_pid("wsteer"), 0);
  EXPECT_EQ(harness_owner_pid("wst12345"), 0);
  EXPECT_EQ(harness_owner_pid("wst12345x678z"), 0);
  EXPECT_EQ(harness_owner_pid("wsteer-test-abc"), 0);
  EXPECT_EQ(harness_owner_pid("my-wsteer-test-12-x"), 0);
}

TEST(Leftovers, WhatADeadRunLeftGoesAndNothingElse) {
  WSTEER_REQUIRE_PRIVILEGED();
  const long dead = impossible_pid();
  std::random_device rd;
  const std::string tag = std::to_string(rd() % 100000);
  const std::string dead_ns = "wst" + std::to_string(dead) + "x" + tag + "a";
  const fs::path dead_pins = fs::path("/sys/fs/bpf") / ("wsteer-test-" + std::to_string(dead) + "-0-" + tag);
  const fs::path live_pins = fs::path("/sys/fs/bpf") / ("wsteer-test-" + std::to_string(::getpid()) + "-live-" + tag);
  const fs::path temp = fs::temp_directory_path() / ("leftovers-" + std::to_string(::getpid()) + "-" + tag);
  const fs::path dead_temp = temp / ("wsteer-test-" + std::to_string(dead) + "-" + tag);
  const fs::path foreign = temp / ("someone-else-" + std::to_string(dead));
  struct Cleanup {
    std::vector<fs::path> paths;
    std::string ns;
    ~Cleanup() {
      std::system(("ip netns delete " + ns + " 2>/dev/null").c_str());
      std::error_code ec;
      for (const auto& p : paths) fs::remove_all(p, ec);
    }
  } cleanup{{dead_pins, live_pins, temp}, dead_ns};

  ASSERT_EQ(std::system(("ip netns add " + dead_ns).c_str()), 0);
  for (const auto& dir : {dead_pins, live_pins, dead_temp, foreign}) fs::create_directories(dir);
  // A pinned map inside the dead run's folder, as an agent leaves it.
  const int map = bpf_map_create(BPF_MAP_TYPE_ARRAY, "leftover", 4, 8, 1, nullptr);
  ASSERT_GE(map, 0);
  ASSERT_EQ(bpf_obj_pin(map, (dead_pins / "wsteer_flows").c_str()), 0);
  ::close(map);

  LeftoverPlaces places;
  places.temp = temp;
  const auto removed = remove_leftovers_of_dead_runs(places);
  const auto said = [&](const fs::path& p) { return std::find(removed.begin(), removed.end(), p.string()) != removed.end(); };
  EXPECT_FALSE(fs::exists(fs::path("/run/netns") / dead_ns));
  EXPECT_TRUE(said(fs::path("/run/netns") / dead_ns));
  EXPECT_FALSE(fs::exists(dead_pins));
  EXPECT_TRUE(said(dead_pins));
  EXPECT_FALSE(fs::exists(dead_temp));
  EXPECT_TRUE(fs::exists(live_pins)) << "a live process's folder was removed";
  EXPECT_TRUE(fs::exists(foreign)) << "a folder the harness does not name was removed";
}

}  // namespace
}  // namespace wsteer::test
