// The fast backend of wsteer-bench: one io_context and one SO_REUSEPORT acceptor per thread, so the
// kernel spreads connections over the threads and nothing is shared on the hot path.
//   /  and /echo      echo every message with its type (text or binary)
//   /source?size=S    stream binary messages of S bytes to the client as fast as it reads
//   /sink             discard; the text message "stats" is answered (see sink_protocol.h)
// Anything else is answered 404.
#pragma once

#include "bench/bench_options.h"

#include <memory>

namespace wsteer::bench {

class BenchServer {
 public:
  // Binds every thread's acceptor (throws std::system_error with the address if it cannot) and
  // starts serving on `options.threads` threads.
  explicit BenchServer(const ServerOptions& options);
  ~BenchServer();  // stops and joins
  BenchServer(const BenchServer&) = delete;
  BenchServer& operator=(const BenchServer&) = delete;

  unsigned short port() const;
  void stop();
  void wait();  // until stop() (from another thread or a signal handler thread)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wsteer::bench
