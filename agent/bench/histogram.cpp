#include "bench/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace wsteer::bench {

// Below kLinear a bucket is one nanosecond wide. Above, a value with its top bit at position m
// falls into the power-of-two range m, split into 128 sub-buckets of width 2^(m-7).
std::size_t LatencyHistogram::index_of(std::uint64_t ns) {
  if (ns < kLinear) return static_cast<std::size_t>(ns);
  const int shift = std::bit_width(ns) - 1 - kSubBits;  // >= 1
  const std::uint64_t sub = (ns >> shift) - (1u << kSubBits);
  return kLinear + static_cast<std::size_t>(shift - 1) * (1u << kSubBits) + static_cast<std::size_t>(sub);
}

std::uint64_t LatencyHistogram::lowest_of(std::size_t index) {
  if (index < kLinear) return index;
  const std::size_t rel = index - kLinear;
  const int shift = static_cast<int>(rel >> kSubBits) + 1;
  const std::uint64_t sub = (rel & ((1u << kSubBits) - 1)) + (1u << kSubBits);
  return sub << shift;
}

std::uint64_t LatencyHistogram::width_of(std::size_t index) {
  if (index < kLinear) return 1;
  return std::uint64_t{1} << (((index - kLinear) >> kSubBits) + 1);
}

void LatencyHistogram::record(std::uint64_t ns) {
  static_assert(kMaxNs < (std::uint64_t{1} << 36), "kBuckets covers values below 2^36");
  ns = std::min(ns, kMaxNs);
  ++counts_[index_of(ns)];
  ++count_;
  min_ = std::min(min_, ns);
  max_ = std::max(max_, ns);
  sum_ += static_cast<double>(ns);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

void LatencyHistogram::reset() { *this = LatencyHistogram{}; }

std::uint64_t LatencyHistogram::percentile_ns(double percent) const {
  if (count_ == 0) return 0;
  if (percent >= 100.0) return max_;
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(percent / 100.0 * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      // The middle of the bucket halves the worst-case error; the observed extremes bound it.
      const std::uint64_t mid = lowest_of(i) + (width_of(i) - 1) / 2;
      return std::clamp(mid, min_, max_);
    }
  }
  return max_;
}

}  // namespace wsteer::bench
