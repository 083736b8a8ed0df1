// The once-a-second progress line on stderr (unless --quiet), from the summed thread counters.
#pragma once

#include "bench/run_state.h"

#include <cstdint>

namespace wsteer::bench {

struct Totals {
  std::uint64_t launched = 0, finished = 0, established = 0, connect_failed = 0, messages = 0, bytes = 0,
                handshakes = 0, handshakes_failed = 0, errors = 0;
};

class Progress {
 public:
  Progress(bool quiet, int target) : quiet_(quiet), target_(target), start_(now_ns()), last_(start_) {}
  void maybe_print(const char* phase, const Totals& t);

 private:
  bool quiet_;
  int target_;
  std::int64_t start_, last_;
  Totals prev_;
};

}  // namespace wsteer::bench
