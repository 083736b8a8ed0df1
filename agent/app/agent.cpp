#include "app/agent.h"

#include "admin/admin_server.h"
#include "admin/control_commands.h"
#include "admin/control_protocol.h"
#include "admin/control_server.h"
#include "core/logging.h"
#include "datapath/splice_datapath.h"
#include "endpoints/endpoints_file.h"
#include "metrics/agent_metrics.h"
#include "metrics/datapath_collector.h"
#include "metrics/function_collector.h"
#include "metrics/metric_names.h"
#include "proxy/health_prober.h"
#include "proxy/listener.h"
#include "proxy/proxy_context.h"
#include "proxy/spliced_flows.h"
#include "steering/steering.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

namespace wsteer::app {
namespace asio = boost::asio;

namespace {

// Every flow needs two descriptors; raise the soft limit to the hard one.
void raise_fd_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
}

wsteer_backend_info to_backend_info(const steering::BackendStatus& b) {
  wsteer_backend_info info{};
  std::strncpy(info.name, b.backend.name.c_str(), sizeof(info.name) - 1);
  const auto addr = b.backend.address.is_v4()
                        ? asio::ip::make_address_v6(asio::ip::v4_mapped, b.backend.address.to_v4()).to_bytes()
                        : b.backend.address.to_v6().to_bytes();
  std::memcpy(info.addr, addr.data(), sizeof(info.addr));
  info.port = b.backend.port;
  info.state = b.state == steering::BackendState::active     ? WSTEER_BACKEND_ACTIVE
               : b.state == steering::BackendState::draining ? WSTEER_BACKEND_DRAINING
                                                              : WSTEER_BACKEND_UNHEALTHY;
  info.weight = b.weight;
  info.max_connections = b.max_connections;
  info.active_connections = b.active_connections;
  info.total_connections = b.total_connections;
  info.connect_failures = b.connect_failures;
  return info;
}

// Mirrors the steering state into the pinned maps so wsteerctl can read it with the agent down.
// Backend states change without an endpoints update (drain, circuit breaker), so this runs on a
// timer; the Maglev table is rewritten only when the endpoint set changed.
class MapPublisher {
 public:
  MapPublisher(datapath::SpliceDatapath& dp, const steering::Steering& steering) : dp_(dp), steering_(steering) {}

  void publish() {
    std::lock_guard lock(mutex_);
    std::vector<std::uint32_t> now_used;
    for (const auto& b : steering_.snapshot()) {
      if (b.backend.id >= WSTEER_MAX_BACKENDS) continue;
      now_used.push_back(b.backend.id);
      dp_.publish_backend(b.backend.id, to_backend_info(b));
    }
    for (auto id : used_)
      if (std::find(now_used.begin(), now_used.end(), id) == now_used.end()) dp_.publish_backend(id, wsteer_backend_info{});
    used_ = std::move(now_used);
    if (const auto version = steering_.endpoints_version(); version != maglev_version_) {
      if (auto table = steering_.maglev_table()) dp_.publish_maglev(*table);
      maglev_version_ = version;
    }
  }

 private:
  datapath::SpliceDatapath& dp_;
  const steering::Steering& steering_;
  std::mutex mutex_;  // endpoints thread and timer
  std::vector<std::uint32_t> used_;
  std::uint64_t maglev_version_ = ~0ULL;
};

std::vector<prometheus::MetricFamily> flow_families(const proxy::SplicedFlows& spliced) {
  const auto s = spliced.stats();
  auto flows = metrics::gauge_family(metrics::names::spliced_flows, "Flows currently spliced in the kernel.");
  metrics::add_sample(flows, static_cast<double>(s.flows));
  auto middle = metrics::gauge_family(metrics::names::spliced_bytes_in_flight,
                                      "Bytes redirected between spliced sockets and not yet acknowledged by their "
                                      "receivers: the kernel memory held in the middle.");
  metrics::add_sample(middle, static_cast<double>(s.bytes_in_middle));
  auto held = metrics::gauge_family(metrics::names::backpressure_paused_flows,
                                    "Spliced flow directions whose sender is currently held back by backpressure.");
  metrics::add_sample(held, static_cast<double>(s.flows_holding));
  auto relayed = metrics::counter_family(metrics::names::backpressure_relayed_bytes_total,
                                         "Bytes the verdict held back from a sender whose reader was behind, "
                                         "relayed by the agent once the reader caught up.");
  metrics::add_sample(relayed, static_cast<double>(s.relayed_bytes));
  auto holds = metrics::counter_family(metrics::names::backpressure_holds_total,
                                       "Times a spliced flow's sender was held back because its reader was behind "
                                       "(more than --splice-buffer-limit bytes in the middle).");
  metrics::add_sample(holds, static_cast<double>(s.holds));
  return {flows, middle, held, relayed, holds};
}

}  // namespace

int run_agent(const AgentConfig& config) {
  setup_logging(config.log_level, config.log_format);
  raise_fd_limit();
  const bool splice = config.proxy.datapath == proxy::DatapathMode::splice;

  auto steering = steering::make_steering(config.steering);
  metrics::AgentMetrics metrics;

  std::unique_ptr<datapath::SpliceDatapath> datapath;
  std::unique_ptr<proxy::SplicedFlows> spliced;
  if (splice) {
    datapath = std::make_unique<datapath::SpliceDatapath>(config.bpffs, config.steering.maglev_size,
                                                          config.proxy.splice_buffer_limit);
    spliced = std::make_unique<proxy::SplicedFlows>(*datapath, [&](std::uint32_t backend_id) {
      metrics.active_connections().Decrement();
      steering->on_closed(backend_id);
    });
    spdlog::info("splice datapath loaded, maps pinned in {}", config.bpffs.string());
  }
  metrics.add_collectable(std::make_shared<metrics::DatapathCollector>(datapath.get(), *steering));
  if (spliced) metrics.add_collectable(std::make_shared<metrics::FunctionCollector>([&] { return flow_families(*spliced); }));

  // Endpoints: the first read must succeed; later bad edits keep the last good list.
  std::unique_ptr<MapPublisher> publisher;
  if (datapath) publisher = std::make_unique<MapPublisher>(*datapath, *steering);
  std::atomic<bool> endpoints_loaded{false};
  endpoints::EndpointsFileWatcher watcher(config.endpoints_file, [&](const steering::EndpointList& list) {
    const auto rebuild_started = std::chrono::steady_clock::now();
    steering->update_endpoints(list);  // builds the new Maglev table
    metrics.maglev_rebuild(std::chrono::duration<double>(std::chrono::steady_clock::now() - rebuild_started).count());
    if (publisher) publisher->publish();
    endpoints_loaded = true;
    spdlog::info("endpoints: {} backends (version {})", list.size(), steering->endpoints_version());
  });
  // A bad first read does not stop the agent: it reports it and stays not-ready until the file is
  // fixed (the watcher keeps watching).
  if (auto started = watcher.start(); !started)
    spdlog::error("endpoints: {} (not ready until the file is fixed)", started.error().message());

  metrics.add_collectable(std::make_shared<metrics::FunctionCollector>([&watcher] {
    auto reloads = metrics::counter_family(metrics::names::endpoints_reloads_total,
                                           "Reads of a changed endpoints file, by result (error: last good list kept).");
    metrics::add_sample(reloads, static_cast<double>(watcher.reloads_ok()), {{"result", "ok"}});
    metrics::add_sample(reloads, static_cast<double>(watcher.reload_errors()), {{"result", "error"}});
    return std::vector<prometheus::MetricFamily>{reloads};
  }));

  proxy::ProxyContext ctx{config.proxy, *steering, metrics, datapath.get(), spliced.get()};

  // Threads: one control io_context (accept, signals), one io_context per worker, and the admin
  // server's own thread (scrapes and probes never wait behind accepts).
  asio::io_context control;
  const unsigned nworkers = config.workers ? config.workers : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::unique_ptr<asio::io_context>> workers;
  std::vector<asio::io_context*> worker_ptrs;
  for (unsigned i = 0; i < nworkers; ++i) {
    workers.push_back(std::make_unique<asio::io_context>(1));
    worker_ptrs.push_back(workers.back().get());
  }
  proxy::Listener listener(control, worker_ptrs, config.listen, ctx);
  listener.start();
  spdlog::info("listening on {}:{} ({} datapath, {} workers)", config.listen.address().to_string(),
               config.listen.port(), splice ? "splice" : "userspace", nworkers);

  proxy::HealthProber prober(control, *steering);
  prober.start();
  asio::steady_timer publish_timer(control);
  std::function<void()> publish_tick = [&] {
    if (publisher) publisher->publish();
    publish_timer.expires_after(std::chrono::seconds(1));
    publish_timer.async_wait([&](boost::system::error_code ec) {
      if (!ec) publish_tick();
    });
  };
  publish_tick();

  std::unique_ptr<admin::AdminServer> admin;
  if (config.metrics_listen) {
    admin = std::make_unique<admin::AdminServer>(
        *config.metrics_listen,
        admin::AdminHandlers{
            [&] { return metrics.serialize(); },
            [&](std::string& why) {
              // Asked of the kernel: a detached verdict would leave spliced flows without a datapath.
              if (splice && (!datapath || !datapath->verdict_attached()))
                return (why = "splice verdict not attached to wsteer_spliced", false);
              return true;
            },
            [&](std::string& why) {
              if (!endpoints_loaded) return (why = "endpoints not loaded", false);
              if (!listener.listening()) return (why = "not accepting (shutting down)", false);
              return true;
            }});
    admin->start();
  }

  // wsteerctl's control socket: drain/undrain, lookup, live status and counters. It stays open
  // through the shutdown grace period so an operator can watch the flows drain.
  const auto started_at = std::chrono::steady_clock::now();
  const admin::ControlContext control_context{
      *steering, config.steering, config.proxy.max_tries,
      [&] {
        if (publisher) publisher->publish();
      },
      [&] {
        boost::json::object s{
            {"pid", ::getpid()},
            {"uptime_seconds",
             std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_at).count()},
            {"datapath", splice ? "splice" : "userspace"},
            {"listen", config.listen.address().to_string() + ":" + std::to_string(config.listen.port())},
            {"accepting", listener.listening()},
            {"workers", nworkers},
            {"open_connections", ctx.open_connections()},
            {"handshaking", ctx.sessions.load()},
            {"endpoints_loaded", endpoints_loaded.load()},
            {"endpoints_reloads_ok", watcher.reloads_ok()},
            {"endpoints_reload_errors", watcher.reload_errors()}};
        if (spliced) {
          const auto st = spliced->stats();
          s["spliced_flows"] = st.flows;
          s["spliced_bytes_in_flight"] = st.bytes_in_middle;
        }
        return s;
      },
      [&] { return admin::counters_json(metrics.registry().Collect()); }};
  // Without it the agent still balances (e.g. run unprivileged with --datapath userspace); only
  // wsteerctl's drain/lookup are lost, and it says the agent is not reachable.
  std::unique_ptr<admin::ControlServer> control_server;
  try {
    control_server = std::make_unique<admin::ControlServer>(
        control, config.control_socket.empty() ? admin::default_control_socket(config.bpffs) : config.control_socket,
        [&control_context](const boost::json::object& request) {
          return admin::handle_control_request(control_context, request);
        });
    control_server->start();
    spdlog::info("control socket {}", control_server->path().string());
  } catch (const std::exception& e) {
    spdlog::error("no control socket for wsteerctl: {}", e.what());
  }

  // SIGTERM/SIGINT: stop accepting, let flows end within the grace period, then clean up.
  asio::signal_set signals(control, SIGTERM, SIGINT);
  asio::steady_timer grace_timer(control);
  const auto deadline_holder = std::make_shared<std::chrono::steady_clock::time_point>();
  std::function<void()> wait_for_flows = [&] {
    if (ctx.open_connections() == 0 || std::chrono::steady_clock::now() >= *deadline_holder) {
      if (ctx.open_connections() > 0)
        spdlog::warn("shutdown grace period over: closing {} connections", ctx.open_connections());
      if (admin) admin->stop();
      control.stop();
      return;
    }
    grace_timer.expires_after(std::chrono::milliseconds(100));
    grace_timer.async_wait([&](boost::system::error_code) { wait_for_flows(); });
  };
  signals.async_wait([&](boost::system::error_code ec, int signo) {
    if (ec) return;
    spdlog::info("signal {}: no new connections; {} open, grace {} s", signo, ctx.open_connections(),
                 config.shutdown_grace.count());
    listener.stop();
    *deadline_holder = std::chrono::steady_clock::now() + config.shutdown_grace;
    signals.async_wait([&](boost::system::error_code, int) {  // a second signal: stop now
      *deadline_holder = std::chrono::steady_clock::now();
    });
    wait_for_flows();
  });

  std::vector<std::thread> threads;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (auto& w : workers) {
    guards.push_back(asio::make_work_guard(*w));
    threads.emplace_back([ctx = w.get()] { ctx->run(); });
  }
  control.run();

  // Orderly end: workers stop (userspace relays and handshakes are dropped with them), spliced
  // flows are closed, then the datapath unpins its maps and removes its folder.
  for (auto& w : workers) w->stop();
  for (auto& t : threads) t.join();
  watcher.stop();
  admin.reset();  // its handlers read the flows and the datapath
  spliced.reset();
  datapath.reset();
  spdlog::info("stopped");
  return 0;
}

}  // namespace wsteer::app
