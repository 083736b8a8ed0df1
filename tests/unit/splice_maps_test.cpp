// The map reader's per-CPU sums: every field of the counter structs, so a counter added to
// wsteer_abi.h but not summed (wsteerctl once dropped held_bytes and holds) fails here.
#include "datapath/splice_maps.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

namespace wsteer::datapath {
namespace {

// The structs are arrays of __u64 (abi_test checks there are no holes): fill every word.
template <typename Counters>
Counters all_words(std::uint64_t value) {
  static_assert(sizeof(Counters) % sizeof(std::uint64_t) == 0);
  Counters c{};
  std::uint64_t words[sizeof(Counters) / sizeof(std::uint64_t)];
  for (auto& w : words) w = value;
  std::memcpy(&c, words, sizeof(c));
  return c;
}

template <typename Counters>
void expect_every_word(const Counters& c, std::uint64_t value) {
  std::uint64_t words[sizeof(Counters) / sizeof(std::uint64_t)];
  std::memcpy(words, &c, sizeof(c));
  for (std::size_t i = 0; i < std::size(words); ++i) EXPECT_EQ(words[i], value) << "word " << i << " not summed";
}

TEST(SpliceMapsSum, EveryStatsFieldIsSummed) {
  wsteer_stats total{};
  add_counters(total, all_words<wsteer_stats>(1));
  add_counters(total, all_words<wsteer_stats>(2));
  expect_every_word(total, 3);
}

TEST(SpliceMapsSum, EveryBackendCounterIsSummed) {
  wsteer_backend_counters total{};
  add_counters(total, all_words<wsteer_backend_counters>(5));
  add_counters(total, all_words<wsteer_backend_counters>(7));
  expect_every_word(total, 12);
}

TEST(SpliceMaps, AMissingPinNamesItsPathAndTheError) {
  try {
    SpliceMaps::open_pinned("/nonexistent-wsteer-folder");
    FAIL() << "opened pins that do not exist";
  } catch (const MapOpenError& e) {
    EXPECT_EQ(e.path(), "/nonexistent-wsteer-folder/wsteer_targets");
    EXPECT_NE(e.error(), 0);
    EXPECT_NE(std::string(e.what()).find("/nonexistent-wsteer-folder/wsteer_targets"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace wsteer::datapath
