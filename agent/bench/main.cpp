// wsteer-bench: a WebSocket load generator and the fast backend it measures against.
//   wsteer-bench --url ws://HOST:PORT/PATH [--mode pingpong|open|stream|churn|idle] [...]
//   wsteer-bench --serve ADDR:PORT [--threads T]
// Exit codes: 0 ok; 1 the run failed (nothing connected, connections failed); 2 bad usage.
#include "bench/bench_options.h"
#include "bench/client_runner.h"
#include "bench/fd_limit.h"
#include "bench/report.h"
#include "bench/server.h"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <system_error>

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

int serve(const wsteer::bench::ServerOptions& o) {
  // The signals are waited for by this thread; the server threads must not take them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  wsteer::bench::BenchServer server(o);
  std::printf("wsteer-bench serving on %s:%u with %d threads (/ /echo /source?size=S /sink)\n", o.address.c_str(),
              server.port(), o.threads);
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  server.stop();
  return 0;
}

int client(const wsteer::bench::ClientOptions& o) {
  using namespace wsteer::bench;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  const auto run = run_client(o, g_stop);
  const auto& r = run.result;
  std::cout << (o.json ? to_json(r) + "\n" : to_table(r)) << std::flush;
  const std::string why = run.first_error.empty() ? "" : " (first error: " + run.first_error + ")";
  if (r.established == 0) {
    std::fprintf(stderr, "wsteer-bench: no connection to %s could be established%s\n", o.url.text.c_str(), why.c_str());
    return 1;
  }
  int rc = 0;
  if (r.connect_failed > 0) {
    std::fprintf(stderr, "wsteer-bench: %llu of %d connections could not be established%s\n",
                 static_cast<unsigned long long>(r.connect_failed), o.connections, why.c_str());
    rc = 1;
  }
  if (r.errors > 0) {
    std::fprintf(stderr, "wsteer-bench: %llu connections failed mid-run%s\n", static_cast<unsigned long long>(r.errors),
                 why.c_str());
    rc = 1;
  }
  if (o.mode == Mode::churn && r.handshakes_failed > 0) {
    std::fprintf(stderr, "wsteer-bench: %llu handshakes failed%s\n", static_cast<unsigned long long>(r.handshakes_failed),
                 why.c_str());
    rc = 1;
  }
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace wsteer::bench;
  try {
    int exit_code = 0;
    const auto invocation = parse_command_line(argc, argv, exit_code);
    if (!invocation) return exit_code;
    raise_fd_limit();
    if (const auto* s = std::get_if<ServerOptions>(&*invocation)) return serve(*s);
    return client(std::get<ClientOptions>(*invocation));
  } catch (const UsageError& e) {
    std::fprintf(stderr, "wsteer-bench: %s\n", e.what());
    return 2;
  } catch (const std::system_error& e) {
    std::fprintf(stderr, "wsteer-bench: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "wsteer-bench: %s\n", e.what());
    return 1;
  }
}
