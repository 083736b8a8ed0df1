#include "bench/client_runner.h"

#include "bench/client_context.h"
#include "bench/client_modes.h"
#include "bench/mode_common.h"
#include "bench/progress.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

namespace wsteer::bench {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace detail;

namespace {

constexpr std::chrono::seconds kDrainGrace{10};  // after the window, for last replies and closes

asio::awaitable<bool> run_mode(WsClient& ws, Conn& c) {
  const auto& o = c.shared.options;
  switch (o.mode) {
    case Mode::pingpong: return run_pingpong(ws, c);
    case Mode::open: return run_open(ws, c);
    case Mode::idle: return run_idle(ws, c);
    case Mode::churn: return run_churn(ws, c);
    case Mode::stream: return o.direction == Direction::up ? run_stream_up(ws, c) : run_stream_down(ws, c);
  }
  throw std::logic_error("unknown mode");
}

asio::awaitable<void> connection(ClientShared& s, ClientThread& t, int index) {
  auto& st = t.stats;
  WsClient ws(t.io);
  const auto r = co_await connect_ws(ws, s.target);
  --t.pending_connects;
  t.slot.cancel_one();
  if (r.ec) {
    st.add_relaxed(st.connect_failed);
    s.window.note_error(r.what);
    co_return;
  }
  st.add_relaxed(st.established);
  st.last_established_ns.store(now_ns(), std::memory_order_relaxed);
  co_await t.gate.async_wait(kUse);  // every connection starts its workload together
  Conn c{s, t, index};
  co_await run_mode(ws, c);  // failures are counted where they happen
}

asio::awaitable<void> launcher(ClientShared& s, ClientThread& t, int threads, std::int64_t start_ns) {
  const auto& o = s.options;
  asio::steady_timer pace(t.io);
  for (int i = t.index; i < o.connections && !s.stop_launching; i += threads) {
    if (o.connect_rate > 0) {
      pace.expires_at(at(start_ns + static_cast<std::int64_t>(1e9 * i / o.connect_rate)));
      co_await pace.async_wait(kUse);
    } else {
      while (t.pending_connects >= o.max_pending_connects) {
        t.slot.expires_at(Clock::time_point::max());
        co_await t.slot.async_wait(kUse);
      }
    }
    ++t.pending_connects;
    t.stats.add_relaxed(t.stats.launched);
    asio::co_spawn(t.io, connection(s, t, i), [&t](std::exception_ptr e) {
      if (e) t.stats.add_relaxed(t.stats.errors);
      t.stats.add_relaxed(t.stats.finished);
    });
  }
  t.launcher_done = true;
}

ConnectTarget resolve(const ClientOptions& o) {
  asio::io_context io;
  tcp::resolver resolver(io);
  boost::system::error_code ec;
  auto results = resolver.resolve(o.url.host, o.url.port, ec);
  if (ec || results.empty())
    throw UsageError("cannot resolve '" + o.url.host + "': " + (ec ? ec.message() : "no address"));
  ConnectTarget to;
  to.endpoint = results.begin()->endpoint();
  const bool v6_literal = o.url.host.find(':') != std::string::npos;
  to.host_header = v6_literal ? "[" + o.url.host + "]" : o.url.host;
  if (o.url.port != "80") to.host_header += ":" + o.url.port;
  to.target = o.url.target;
  if (o.mode == Mode::stream)
    to.target = o.direction == Direction::up ? "/sink" : "/source?size=" + std::to_string(o.size);
  to.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(o.connect_timeout * 1000));
  return to;
}

void write_ready_file(const std::string& path) {
  // Written aside and renamed, so whoever polls for it never reads it half-written.
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp) << "ready\n";
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) std::fprintf(stderr, "wsteer-bench: cannot write --ready-file %s: %s\n", path.c_str(), ec.message().c_str());
}

Totals sum(const std::vector<std::unique_ptr<ClientThread>>& threads) {
  Totals t;
  for (const auto& th : threads) {
    const auto& s = th->stats;
    t.launched += s.launched.load();
    t.finished += s.finished.load();
    t.established += s.established.load();
    t.connect_failed += s.connect_failed.load();
    t.messages += s.messages.load();
    t.bytes += s.bytes.load();
    t.handshakes += s.handshakes.load();
    t.handshakes_failed += s.handshakes_failed.load();
    t.errors += s.errors.load();
  }
  return t;
}

}  // namespace

ClientRun run_client(const ClientOptions& o, const std::atomic<bool>& stop) {
  RunWindow window(o.messages);
  ClientShared shared{o, resolve(o), window};
  std::vector<std::unique_ptr<ClientThread>> threads;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (int i = 0; i < o.threads; ++i) {
    threads.push_back(std::make_unique<ClientThread>(i));
    guards.push_back(asio::make_work_guard(threads.back()->io));
  }
  Progress progress(o.quiet, o.connections);
  const auto start = now_ns();
  for (auto& t : threads)
    asio::co_spawn(t->io, launcher(shared, *t, o.threads, start), asio::detached);
  std::vector<std::thread> workers;
  for (auto& t : threads) workers.emplace_back([io = &t->io] { io->run(); });
  const auto tick = std::chrono::milliseconds(10);

  // Setup: until every connection is up or failed.
  for (;;) {
    std::this_thread::sleep_for(tick);
    const auto t = sum(threads);
    progress.maybe_print("connecting", t);
    if (t.established + t.connect_failed >= static_cast<std::uint64_t>(o.connections) || stop) break;
  }
  shared.stop_launching = true;
  std::int64_t last_up = 0;
  for (auto& t : threads) last_up = std::max(last_up, t->stats.last_established_ns.load());
  const auto setup = sum(threads);
  if (setup.established > 0 && !o.ready_file.empty()) write_ready_file(o.ready_file);

  // Measure: the window opens after the warm-up and closes after --duration (or --messages).
  const auto go = now_ns();
  const auto from = go + static_cast<std::int64_t>(o.warmup * 1e9);
  window.open(from, o.messages ? RunWindow::kNever : from + static_cast<std::int64_t>(o.duration * 1e9));
  if (stop || setup.established == 0) window.end_at(go);
  for (auto& t : threads) asio::post(t->io, [t = t.get()] { t->gate.expires_at(Clock::time_point::min()); });
  for (;;) {
    std::this_thread::sleep_for(tick);
    const auto now = now_ns();
    const auto t = sum(threads);
    if (stop) window.end_at(std::max(now, from));
    if (t.finished >= t.launched) window.end_at(std::max(now, from));  // nothing left running
    if (now >= window.until()) break;
    progress.maybe_print(now < from ? "warmup" : "measuring", t);
  }

  // Drain: last echoes and closes; whatever has not finished by then failed.
  const auto deadline = now_ns() + std::chrono::nanoseconds(kDrainGrace).count();
  while (sum(threads).finished < sum(threads).launched && now_ns() < deadline) std::this_thread::sleep_for(tick);
  guards.clear();
  const auto end = sum(threads);
  for (auto& t : threads) t->io.stop();
  for (auto& w : workers) w.join();

  ClientRun run;
  BenchResult& r = run.result;
  r.mode = mode_name(o.mode);
  r.url = o.url.text;
  if (o.mode == Mode::stream) r.direction = o.direction == Direction::up ? "up" : "down";
  r.target_connections = o.connections;
  r.established = setup.established;
  r.connect_failed = setup.connect_failed;
  r.setup_seconds = setup.established ? static_cast<double>(last_up - start) / 1e9 : 0;
  r.duration_seconds = std::max<double>(0, static_cast<double>(window.until() - from) / 1e9);
  r.messages = end.messages;
  r.bytes = end.bytes;
  r.errors = end.errors + (end.launched - end.finished);  // still running at the deadline
  for (auto& t : threads) {
    r.latency.merge(t->stats.latency);
    r.bytes_per_second += t->stats.receiver_bytes_per_second;
  }
  if (!(o.mode == Mode::stream && o.direction == Direction::up))
    r.bytes_per_second = r.duration_seconds > 0 ? static_cast<double>(r.bytes) / r.duration_seconds : 0;
  if (o.mode == Mode::churn) {
    r.handshakes = end.handshakes;
    r.handshakes_failed = end.handshakes_failed;
    r.handshakes_per_second = r.duration_seconds > 0 ? static_cast<double>(r.handshakes) / r.duration_seconds : 0;
  } else {  // the setup handshakes
    r.handshakes = setup.established;
    r.handshakes_failed = setup.connect_failed;
    r.handshakes_per_second = r.setup_seconds > 0 ? static_cast<double>(r.established) / r.setup_seconds : 0;
  }
  run.first_error = window.first_error();
  return run;
}

}  // namespace wsteer::bench
