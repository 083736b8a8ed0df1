// What a client run measured, and its two renderings: one JSON object (the stable contract the
// benchmark harness parses) and an aligned table for people (fits 80 columns).
#pragma once

#include "bench/bench_options.h"
#include "bench/histogram.h"

#include <cstdint>
#include <string>

namespace wsteer::bench {

struct BenchResult {
  std::string mode;
  std::string url;
  std::string direction;  // stream only; "" otherwise (table only, not in the JSON contract)
  int target_connections = 0;
  std::uint64_t established = 0;
  std::uint64_t connect_failed = 0;
  double setup_seconds = 0;
  double duration_seconds = 0;   // the measured window
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  double bytes_per_second = 0;   // summed per connection where the receiver timed it (stream up)
  LatencyHistogram latency;      // message round trips, or handshakes in churn
  std::uint64_t handshakes = 0;
  double handshakes_per_second = 0;
  std::uint64_t handshakes_failed = 0;
  std::uint64_t errors = 0;      // connections that failed mid-run
};

std::string to_json(const BenchResult& r);
std::string to_table(const BenchResult& r);

}  // namespace wsteer::bench
