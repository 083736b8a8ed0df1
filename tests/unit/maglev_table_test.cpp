// Properties of the Maglev table over many random endpoint sets: weight shares, key movement on
// add/remove, determinism within and across processes.
#include "steering/maglev.h"

#include <gtest/gtest.h>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>

extern char** environ;

namespace wsteer::steering {
namespace {

constexpr std::uint32_t kTableSize = 65537;
constexpr std::uint64_t kSeed = 0x77737465657221ULL;
constexpr int kRandomSets = 40;

std::vector<MaglevMember> random_members(std::mt19937_64& rng, std::size_t n, std::uint32_t max_weight) {
  std::vector<MaglevMember> members;
  std::uniform_int_distribution<std::uint32_t> octet(0, 255), weight(1, max_weight);
  std::map<std::string, bool> used;
  while (members.size() < n) {
    auto name = "10.1." + std::to_string(octet(rng)) + "." + std::to_string(octet(rng)) + ":8080";
    if (used[name]) continue;
    used[name] = true;
    members.push_back({name, weight(rng), static_cast<std::uint32_t>(members.size())});
  }
  return members;
}

// The table as backend names, so tables built with different ids compare by meaning.
std::vector<std::string> names_per_slot(const std::vector<MaglevMember>& members, std::uint32_t size) {
  std::map<std::uint32_t, std::string> name_of;
  for (const auto& m : members) name_of[m.id] = m.name;
  std::vector<std::string> names;
  for (const auto id : build_maglev_table(members, size, kSeed)) names.push_back(name_of.at(id));
  return names;
}

double moved_fraction(const std::vector<std::string>& before, const std::vector<std::string>& after) {
  std::size_t moved = 0;
  for (std::size_t i = 0; i < before.size(); ++i) moved += before[i] != after[i];
  return static_cast<double>(moved) / static_cast<double>(before.size());
}

// Stable digest of a table, for comparing processes.
std::uint64_t digest(const std::vector<std::string>& names) {
  std::string all;
  for (const auto& n : names) all += n + '\n';
  return stable_hash(all, 0);
}

// A fixed endpoint set both the test and its re-executed helper process build.
std::vector<MaglevMember> fixed_members() {
  std::mt19937_64 rng(42);
  return random_members(rng, 50, 3);
}

// Helper mode: when re-executed with WSTEER_MAGLEV_DIGEST set, print the fixed set's digest and
// exit before GoogleTest starts. A fresh process (own ASLR, own heap, own everything) must agree.
const bool kHelperMode = [] {
  if (!std::getenv("WSTEER_MAGLEV_DIGEST")) return false;
  std::printf("%llu\n", static_cast<unsigned long long>(digest(names_per_slot(fixed_members(), kTableSize))));
  std::fflush(stdout);
  std::_Exit(0);
}();

TEST(StableHash, IsPinned) {
  // Agents of different versions must agree during a rolling upgrade: changing the hash changes
  // every key's backend, so these values may only change on purpose.
  static_assert(stable_hash("pod-a", 0) == 0x19f6a44d1f070ad4ULL);
  static_assert(stable_hash("dGhlIHNhbXBsZSBub25jZQ==", kSeed) == 0x31a146af21eab79dULL);
  EXPECT_NE(stable_hash("pod-a", 1), stable_hash("pod-a", 2));
}

TEST(MaglevTable, RejectsNonPrimeSizesAndZeroWeights) {
  const std::vector<MaglevMember> one = {{"a", 1, 0}};
  EXPECT_THROW(build_maglev_table(one, 65536, kSeed), std::invalid_argument);
  EXPECT_THROW(build_maglev_table(one, 1, kSeed), std::invalid_argument);
  const std::vector<MaglevMember> zero = {{"a", 0, 0}};
  EXPECT_THROW(build_maglev_table(zero, 13, kSeed), std::invalid_argument);
  EXPECT_TRUE(build_maglev_table({}, 13, kSeed).empty());
  EXPECT_TRUE(is_prime(65537));
  EXPECT_TRUE(is_prime(1048573));
  EXPECT_FALSE(is_prime(65535));
  EXPECT_FALSE(is_prime(0));
}

TEST(MaglevTable, FillsEverySlotWithAMember) {
  std::mt19937_64 rng(1);
  const auto members = random_members(rng, 7, 3);
  const auto table = build_maglev_table(members, 101, kSeed);
  ASSERT_EQ(table.size(), 101u);
  for (const auto id : table) EXPECT_LT(id, members.size());
}

TEST(MaglevTable, SlotShareWithinOnePercentOfWeightShare) {
  std::mt19937_64 rng(2);
  for (int round = 0; round < kRandomSets; ++round) {
    const auto n = std::uniform_int_distribution<std::size_t>(1, 100)(rng);
    const auto members = random_members(rng, n, 4);
    const auto table = build_maglev_table(members, kTableSize, kSeed);
    std::vector<std::size_t> slots(n, 0);
    for (const auto id : table) ++slots[id];
    double total_weight = 0;
    for (const auto& m : members) total_weight += m.weight;
    for (const auto& m : members) {
      const double weight_share = m.weight / total_weight;
      const double slot_share = static_cast<double>(slots[m.id]) / kTableSize;
      EXPECT_NEAR(slot_share, weight_share, 0.01 * weight_share) << "n=" << n << " member " << m.name;
    }
  }
}

TEST(MaglevTable, RemovingOneOfNMovesAtMostOneNthPlusOnePercent) {
  std::mt19937_64 rng(3);
  for (int round = 0; round < kRandomSets; ++round) {
    const auto n = std::uniform_int_distribution<std::size_t>(2, 100)(rng);
    auto members = random_members(rng, n, 1);
    const auto before = names_per_slot(members, kTableSize);
    members.erase(members.begin() + std::uniform_int_distribution<std::ptrdiff_t>(0, n - 1)(rng));
    const auto after = names_per_slot(members, kTableSize);
    EXPECT_LE(moved_fraction(before, after), 1.0 / n + 0.01) << "n=" << n;
  }
}

TEST(MaglevTable, AddingOneToNMovesAtMostOneNPlusOnethPlusOnePercent) {
  std::mt19937_64 rng(4);
  for (int round = 0; round < kRandomSets; ++round) {
    const auto n = std::uniform_int_distribution<std::size_t>(1, 99)(rng);
    auto members = random_members(rng, n + 1, 1);
    const auto newcomer = members.back();
    members.pop_back();
    const auto before = names_per_slot(members, kTableSize);
    members.push_back(newcomer);
    const auto after = names_per_slot(members, kTableSize);
    EXPECT_LE(moved_fraction(before, after), 1.0 / (n + 1) + 0.01) << "n=" << n;
  }
}

TEST(MaglevTable, RemovingAWeightedMemberMovesAboutItsShare) {
  std::mt19937_64 rng(5);
  for (int round = 0; round < kRandomSets; ++round) {
    const auto n = std::uniform_int_distribution<std::size_t>(2, 100)(rng);
    auto members = random_members(rng, n, 4);
    const auto before = names_per_slot(members, kTableSize);
    const auto victim = std::uniform_int_distribution<std::ptrdiff_t>(0, n - 1)(rng);
    double total_weight = 0;
    for (const auto& m : members) total_weight += m.weight;
    const double victim_share = members[victim].weight / total_weight;
    members.erase(members.begin() + victim);
    EXPECT_LE(moved_fraction(before, names_per_slot(members, kTableSize)), victim_share + 0.01) << "n=" << n;
  }
}

TEST(MaglevTable, SameMembersInAnyOrderGiveTheSameTable) {
  std::mt19937_64 rng(6);
  for (int round = 0; round < 10; ++round) {
    auto members = random_members(rng, 30, 3);
    const auto reference = build_maglev_table(members, kTableSize, kSeed);
    std::shuffle(members.begin(), members.end(), rng);
    EXPECT_EQ(build_maglev_table(members, kTableSize, kSeed), reference);
  }
}

TEST(MaglevTable, DifferentSeedsGiveDifferentTables) {
  const auto members = fixed_members();
  EXPECT_NE(build_maglev_table(members, kTableSize, 1), build_maglev_table(members, kTableSize, 2));
}

TEST(MaglevTable, AnotherProcessBuildsTheSameTable) {
  // Re-execute this test binary in helper mode: a separate process, as another agent would be.
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  std::vector<std::string> env_strings = {"WSTEER_MAGLEV_DIGEST=1"};
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  char self[] = "/proc/self/exe";
  char* argv[] = {self, nullptr};
  pid_t child = 0;
  ASSERT_EQ(posix_spawn(&child, self, &actions, nullptr, argv, envp.data()), 0);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  std::string printed;
  char buffer[64];
  for (ssize_t n; (n = read(out[0], buffer, sizeof buffer)) > 0;) printed.append(buffer, static_cast<std::size_t>(n));
  close(out[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(std::stoull(printed), digest(names_per_slot(fixed_members(), kTableSize)));
}

TEST(MaglevWalk, VisitsEverySlotOnceStartingAtHome) {
  for (const std::uint64_t key_hash : {0ULL, 1ULL, 0xdeadbeefULL, ~0ULL}) {
    MaglevWalk walk(key_hash, 101);
    EXPECT_EQ(walk.slot(), walk.home_slot());
    EXPECT_EQ(walk.home_slot(), key_hash % 101);
    std::vector<bool> visited(101, false);
    for (int i = 0; i < 101; ++i, walk.advance()) {
      EXPECT_FALSE(visited[walk.slot()]);
      visited[walk.slot()] = true;
    }
  }
}

}  // namespace
}  // namespace wsteer::steering
