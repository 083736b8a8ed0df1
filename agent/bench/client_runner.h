// Runs a client benchmark: opens the connections (paced by --connect-rate), waits until every
// one is up (or failed), writes the ready file, opens the measuring window after the warm-up, and
// collects the per-thread counters and histograms into one BenchResult.
#pragma once

#include "bench/bench_options.h"
#include "bench/report.h"

#include <atomic>
#include <string>

namespace wsteer::bench {

struct ClientRun {
  BenchResult result;
  std::string first_error;  // the first failure's reason, for the exit message
};

// `stop` (set by a signal handler) ends the run early; what was measured is still reported.
// Throws UsageError when the host cannot be resolved.
ClientRun run_client(const ClientOptions& options, const std::atomic<bool>& stop);

}  // namespace wsteer::bench
