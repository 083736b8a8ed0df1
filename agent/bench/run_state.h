// What the client threads share: the measuring window (set once every connection is up), the
// message limit, and per-thread counters. Counters are relaxed atomics so the progress line can
// read them; the latency histogram is touched only by its own thread and merged at the end.
#pragma once

#include "bench/histogram.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <mutex>
#include <string>

namespace wsteer::bench {

using Clock = std::chrono::steady_clock;

inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

struct alignas(64) ThreadStats {
  std::atomic<std::uint64_t> launched{0};
  std::atomic<std::uint64_t> finished{0};
  std::atomic<std::uint64_t> established{0};
  std::atomic<std::uint64_t> connect_failed{0};
  std::atomic<std::int64_t> last_established_ns{0};
  std::atomic<std::uint64_t> messages{0};  // measured only
  std::atomic<std::uint64_t> bytes{0};     // measured only
  std::atomic<std::uint64_t> handshakes{0};
  std::atomic<std::uint64_t> handshakes_failed{0};
  std::atomic<std::uint64_t> errors{0};
  double receiver_bytes_per_second = 0;  // stream up: summed over this thread's connections
  LatencyHistogram latency;

  void add_relaxed(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
};

class RunWindow {
 public:
  static constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

  explicit RunWindow(std::uint64_t message_limit) : limit_(message_limit) {}

  void open(std::int64_t from_ns, std::int64_t until_ns) {
    from_.store(from_ns);
    until_.store(until_ns);
  }
  // Ends the window now (a signal, or the message limit).
  void end_at(std::int64_t t) {
    std::int64_t cur = until_.load();
    while (t < cur && !until_.compare_exchange_weak(cur, t)) {
    }
  }
  std::int64_t from() const { return from_.load(std::memory_order_relaxed); }
  std::int64_t until() const { return until_.load(std::memory_order_relaxed); }
  bool done(std::int64_t t) const { return t >= until(); }

  // Whether an event at time t is measured; counts it against --messages.
  bool count_message(std::int64_t t) {
    if (t < from() || t >= until()) return false;
    if (limit_ == 0) return true;
    const auto n = counted_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (n == limit_) end_at(t + 1);
    return n <= limit_;
  }
  bool in_window(std::int64_t t) const { return t >= from() && t < until(); }

  // The first reason a connection failed, for the error message when nothing connects.
  void note_error(const std::string& what) {
    std::lock_guard lock(mutex_);
    if (first_error_.empty()) first_error_ = what;
  }
  std::string first_error() {
    std::lock_guard lock(mutex_);
    return first_error_;
  }

 private:
  std::atomic<std::int64_t> from_{kNever};
  std::atomic<std::int64_t> until_{kNever};
  const std::uint64_t limit_;
  std::atomic<std::uint64_t> counted_{0};
  std::mutex mutex_;
  std::string first_error_;
};

}  // namespace wsteer::bench
