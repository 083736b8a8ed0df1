#include "bench/progress.h"

#include <cstdio>

namespace wsteer::bench {

void Progress::maybe_print(const char* phase, const Totals& t) {
  const auto now = now_ns();
  if (quiet_ || now - last_ < 1'000'000'000) return;
  const double dt = static_cast<double>(now - last_) / 1e9;
  std::fprintf(stderr, "[%5.0fs] %-9s conns %llu/%d failed %llu  msgs %.0f/s  %.2f MB/s  hs %.0f/s  errors %llu\n",
               static_cast<double>(now - start_) / 1e9, phase, static_cast<unsigned long long>(t.established), target_,
               static_cast<unsigned long long>(t.connect_failed),
               static_cast<double>(t.messages - prev_.messages) / dt,
               static_cast<double>(t.bytes - prev_.bytes) / dt / 1e6,
               static_cast<double>(t.handshakes - prev_.handshakes) / dt, static_cast<unsigned long long>(t.errors));
  last_ = now;
  prev_ = t;
}

}  // namespace wsteer::bench
