// Small helpers shared by the mode implementations (internal to agent/bench).
#pragma once

#include "bench/client_context.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <random>

namespace wsteer::bench::detail {

inline constexpr auto kUse = boost::asio::as_tuple(boost::asio::use_awaitable);
inline constexpr std::chrono::milliseconds kCloseTimeout{10000};

inline Clock::time_point at(std::int64_t ns) { return Clock::time_point(std::chrono::nanoseconds(ns)); }

// A random offset in [0, period) so that connections on a schedule do not all fire together.
inline std::int64_t phase_ns(std::int64_t period_ns, int index) {
  std::mt19937_64 rng(0x9e3779b97f4a7c15ULL ^ static_cast<std::uint64_t>(index));
  return period_ns > 1 ? static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(period_ns)) : 0;
}

inline std::int64_t period_ns(double per_second) { return static_cast<std::int64_t>(1e9 / per_second); }

// Ends a connection after its workload: a clean close, or a counted failure. (Defined in
// ws_connect.cpp: GCC 12 miscompiles inline coroutines used from several translation units.)
boost::asio::awaitable<bool> finish(WsClient& ws, Conn& c);

}  // namespace wsteer::bench::detail
