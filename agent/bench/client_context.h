// What a client connection's coroutine can see: the run-wide settings and window, and the state of
// the io thread it runs on (its counters, the gate that opens when every connection is up).
#pragma once

#include "bench/bench_options.h"
#include "bench/run_state.h"
#include "bench/ws_connect.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>

namespace wsteer::bench {

struct ClientShared {
  const ClientOptions& options;
  ConnectTarget target;
  RunWindow& window;
  std::atomic<bool> stop_launching{false};
};

struct ClientThread {
  explicit ClientThread(int i) : index(i) {}
  int index;
  boost::asio::io_context io{1};
  ThreadStats stats;
  boost::asio::steady_timer gate{io, Clock::time_point::max()};  // opened once every connection is up
  boost::asio::steady_timer slot{io};                            // wakes the launcher when a connect resolves
  int pending_connects = 0;
  std::atomic<bool> launcher_done{false};
};

struct Conn {
  ClientShared& shared;
  ClientThread& thread;
  int index;

  // Counts a mid-run failure and keeps its reason; returns false for `co_return fail(...)`.
  bool fail(const std::string& what) {
    thread.stats.add_relaxed(thread.stats.errors);
    shared.window.note_error(what);
    return false;
  }
};

}  // namespace wsteer::bench
