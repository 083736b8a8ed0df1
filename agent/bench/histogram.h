// A latency histogram in the style of HdrHistogram: log-linear buckets (each power of two split
// into 128 linear sub-buckets, so a bucket is at most 1/128 ≈ 0.8% wide relative to its values),
// covering 1 ns to 60 s in fixed memory (~30 KiB). Recording is a shift and an increment, so every
// connection thread can keep its own and the results are merged once at the end.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace wsteer::bench {

class LatencyHistogram {
 public:
  // Values are nanoseconds; larger ones are clamped to kMaxNs (and still counted).
  static constexpr std::uint64_t kMaxNs = 60'000'000'000ULL;

  void record(std::uint64_t ns);
  void record(std::chrono::nanoseconds d) { record(d.count() < 0 ? 0 : static_cast<std::uint64_t>(d.count())); }
  void merge(const LatencyHistogram& other);
  void reset();

  std::uint64_t count() const { return count_; }
  std::uint64_t min_ns() const { return count_ ? min_ : 0; }
  std::uint64_t max_ns() const { return max_; }
  double mean_ns() const { return count_ ? sum_ / static_cast<double>(count_) : 0.0; }
  // The value below which `percent` % of the samples fall (0 < percent <= 100), within the
  // bucket precision; 0 when empty. 100 gives the exact maximum.
  std::uint64_t percentile_ns(double percent) const;

 private:
  static constexpr int kSubBits = 7;                      // 128 sub-buckets per power of two
  static constexpr std::uint64_t kLinear = 2u << kSubBits;  // values below 256 ns are exact
  static constexpr std::size_t kBuckets = 3840;           // enough for kMaxNs (asserted in .cpp)

  static std::size_t index_of(std::uint64_t ns);
  static std::uint64_t lowest_of(std::size_t index);
  static std::uint64_t width_of(std::size_t index);

  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
  double sum_ = 0.0;
};

}  // namespace wsteer::bench
