// The latency histogram of wsteer-bench: percentiles of known distributions stay within the
// promised ~1% relative precision over 1 us .. 60 s, and per-thread histograms merge exactly.
#include "bench/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace wsteer::bench {
namespace {

constexpr double kPercentiles[] = {1, 10, 50, 90, 99, 99.9, 99.99};

std::uint64_t exact_percentile(std::vector<std::uint64_t> sorted, double p) {
  const auto rank = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(p / 100.0 * sorted.size())));
  return sorted[rank - 1];
}

void expect_within_precision(const std::vector<std::uint64_t>& samples, const LatencyHistogram& h) {
  std::vector<std::uint64_t> sorted = samples;
  std::sort(sorted.begin(), sorted.end());
  for (double p : kPercentiles) {
    const double exact = static_cast<double>(exact_percentile(sorted, p));
    const double got = static_cast<double>(h.percentile_ns(p));
    EXPECT_NEAR(got, exact, exact * 0.01) << "p" << p;
  }
  EXPECT_EQ(h.max_ns(), sorted.back());
  EXPECT_EQ(h.min_ns(), sorted.front());
  EXPECT_EQ(h.percentile_ns(100), sorted.back());
}

TEST(BenchHistogram, UniformFromOneMicrosecondToOneSecond) {
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<std::uint64_t> dist(1'000, 1'000'000'000);
  std::vector<std::uint64_t> samples(200'000);
  LatencyHistogram h;
  for (auto& s : samples) h.record(s = dist(rng));
  EXPECT_EQ(h.count(), samples.size());
  expect_within_precision(samples, h);
}

TEST(BenchHistogram, LogNormalLikeRealLatencies) {
  std::mt19937_64 rng(2);
  std::lognormal_distribution<double> dist(std::log(50'000.0), 1.5);  // median 50 us, long tail
  std::vector<std::uint64_t> samples(200'000);
  LatencyHistogram h;
  double sum = 0;
  for (auto& s : samples) {
    s = std::clamp<std::uint64_t>(static_cast<std::uint64_t>(dist(rng)), 1'000, LatencyHistogram::kMaxNs);
    h.record(s);
    sum += static_cast<double>(s);
  }
  expect_within_precision(samples, h);
  EXPECT_NEAR(h.mean_ns(), sum / samples.size(), 1e-6 * sum / samples.size());
}

TEST(BenchHistogram, ConstantValueAtEveryScale) {
  for (std::uint64_t v : {1'000ULL, 37'123ULL, 999'999'999ULL, 59'000'000'000ULL}) {
    LatencyHistogram h;
    for (int i = 0; i < 1000; ++i) h.record(v);
    for (double p : kPercentiles) EXPECT_NEAR(static_cast<double>(h.percentile_ns(p)), v, v * 0.01) << v << " p" << p;
  }
}

TEST(BenchHistogram, SmallValuesAreExact) {
  LatencyHistogram h;
  for (std::uint64_t v = 1; v <= 200; ++v) h.record(v);
  EXPECT_EQ(h.percentile_ns(50), 100u);
  EXPECT_EQ(h.percentile_ns(1), 2u);
}

TEST(BenchHistogram, ClampsAtSixtySecondsAndStillCounts) {
  LatencyHistogram h;
  h.record(std::chrono::seconds(120));
  h.record(std::chrono::nanoseconds(-5));  // a clock oddity is a zero, not a huge value
  EXPECT_EQ(h.count(), 2u);
  EXPECT_EQ(h.max_ns(), LatencyHistogram::kMaxNs);
  EXPECT_EQ(h.min_ns(), 0u);
  EXPECT_NEAR(static_cast<double>(h.percentile_ns(99)), 60e9, 60e9 * 0.01);
}

TEST(BenchHistogram, EmptyReportsZeros) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile_ns(50), 0u);
  EXPECT_EQ(h.max_ns(), 0u);
  EXPECT_EQ(h.min_ns(), 0u);
  EXPECT_EQ(h.mean_ns(), 0.0);
}

TEST(BenchHistogram, MergedPerThreadHistogramsEqualOneHistogram) {
  std::mt19937_64 rng(3);
  std::exponential_distribution<double> dist(1.0 / 200'000.0);
  LatencyHistogram all;
  LatencyHistogram parts[4];
  std::vector<std::uint64_t> samples(100'000);
  for (std::size_t i = 0; i < samples.size(); ++i) {
    samples[i] = 1'000 + static_cast<std::uint64_t>(dist(rng));
    all.record(samples[i]);
    parts[i % 4].record(samples[i]);
  }
  LatencyHistogram merged;
  for (const auto& p : parts) merged.merge(p);
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.min_ns(), all.min_ns());
  EXPECT_EQ(merged.max_ns(), all.max_ns());
  EXPECT_NEAR(merged.mean_ns(), all.mean_ns(), 1e-9 * all.mean_ns());
  for (double p : kPercentiles) EXPECT_EQ(merged.percentile_ns(p), all.percentile_ns(p)) << "p" << p;
  expect_within_precision(samples, merged);
  // A merge with an empty histogram changes nothing (its min must not leak in).
  merged.merge(LatencyHistogram{});
  EXPECT_EQ(merged.min_ns(), all.min_ns());
}

}  // namespace
}  // namespace wsteer::bench
