#include "app/agent.h"

#include "app/handoff_flows.h"
#include "app/handoff_receiver.h"
#include "app/handoff_sender.h"
#include "app/kubernetes_metrics.h"
#include "app/map_publisher.h"
#include "app/scaling_runtime.h"
#include "app/service_runtime.h"
#include "app/xdp_front_door.h"

#include "admin/admin_server.h"
#include "admin/connections_report.h"
#include "admin/control_commands.h"
#include "admin/control_protocol.h"
#include "admin/control_server.h"
#include "core/inherited_sockets.h"
#include "core/logging.h"
#include "datapath/splice_datapath.h"
#include "endpoints/endpoints_file.h"
#include "k8s/api_client.h"
#include "metrics/agent_metrics.h"
#include "metrics/datapath_collector.h"
#include "metrics/function_collector.h"
#include "metrics/metric_names.h"
#include "proxy/health_prober.h"
#include "proxy/listener.h"
#include "proxy/proxy_context.h"
#include "proxy/rebalancer.h"
#include "proxy/spliced_flows.h"
#include "steering/steering.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <fcntl.h>
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

  metrics::AgentMetrics metrics;
  // Backend ids index node-wide maps: every Service claims its ids from one pool.
  const auto backend_ids = std::make_shared<steering::BackendIdPool>();

  // --takeover (docs/handoff.md): the running agent's listening sockets first (it stops accepting
  // and drops the pin folder's lock), then its maps. Any failure from here to the first
  // acknowledgement closes the connection, and the old agent serves on.
  const auto control_path =
      config.control_socket.empty() ? admin::default_control_socket(config.bpffs) : config.control_socket;
  std::unique_ptr<HandoffReceiver> takeover;
  if (config.takeover) takeover = HandoffReceiver::connect(control_path);

  std::unique_ptr<datapath::SpliceDatapath> datapath;
  std::unique_ptr<proxy::SplicedFlows> spliced;
  if (splice) {
    datapath = std::make_unique<datapath::SpliceDatapath>(config.bpffs, config.steering.maglev_size,
                                                          config.proxy.splice_buffer_limit,
                                                          static_cast<std::uint32_t>(config.services.size()),
                                                          config.rebalance.above > 0, takeover != nullptr);
    // Each flow owns its counts (steering, the active-connections gauge): ending it ends them.
    spliced = std::make_unique<proxy::SplicedFlows>(*datapath);
    spdlog::info("splice datapath loaded, maps pinned in {}", config.bpffs.string());
    if (takeover) handoff_fail_point("receiver-after-maps");
  }

  // The XDP front door, before any listener accepts: its connection counts must see every client.
  std::unique_ptr<XdpFrontDoor> xdp;
  if (config.xdp.enabled()) xdp = std::make_unique<XdpFrontDoor>(config, metrics, datapath.get());

  // Threads: one control io_context (accept, signals, probes), one io_context per worker, and the
  // admin server's own thread (scrapes and probes never wait behind accepts).
  asio::io_context control;
  const unsigned nworkers = config.workers ? config.workers : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::unique_ptr<asio::io_context>> workers;
  std::vector<asio::io_context*> worker_ptrs;
  for (unsigned i = 0; i < nworkers; ++i) {
    workers.push_back(std::make_unique<asio::io_context>(1));
    worker_ptrs.push_back(workers.back().get());
  }

  // Kubernetes Services share one API client (in-cluster ServiceAccount, or --kubeconfig). A
  // missing or unusable configuration fails the start; an unreachable server does not (the
  // sources retry and the services stay not ready).
  std::shared_ptr<k8s::ApiClient> kube;
  std::unique_ptr<KubernetesMetrics> kube_metrics;
  if (std::any_of(config.services.begin(), config.services.end(), [](const auto& s) { return s.kubernetes.has_value(); })) {
    kube = std::make_shared<k8s::ApiClient>(k8s::load_cluster_config(config.kubeconfig));
    kube_metrics = std::make_unique<KubernetesMetrics>(metrics.registry());
    spdlog::info("Kubernetes API server {} ({})", kube->config().server, kube->config().origin);
  }

  // One runtime per Service: binds its listener now (a taken port fails the start).
  std::vector<std::unique_ptr<ServiceRuntime>> services;
  const ServiceRuntime::Shared shared{config, backend_ids, metrics, datapath.get(), spliced.get(), control, worker_ptrs,
                                      kube, kube_metrics.get(), xdp ? xdp->conns() : nullptr};
  for (std::size_t i = 0; i < config.services.size(); ++i)
    services.push_back(std::make_unique<ServiceRuntime>(static_cast<std::uint32_t>(i), config.services[i], shared));

  std::unique_ptr<MapPublisher> publisher;
  if (datapath) publisher = std::make_unique<MapPublisher>(*datapath, services);
  const auto publish = [&] {
    if (publisher) publisher->publish();
  };
  for (auto& s : services) s->set_on_published(publish);

  std::vector<metrics::ServiceSteering> steerings;
  for (const auto& s : services) steerings.push_back({s->config().name, &s->steering()});
  metrics.add_collectable(std::make_shared<metrics::DatapathCollector>(datapath.get(), steerings));
  if (spliced) metrics.add_collectable(std::make_shared<metrics::FunctionCollector>([&] { return flow_families(*spliced); }));
  metrics.add_collectable(std::make_shared<metrics::FunctionCollector>([&services] {
    auto reloads = metrics::counter_family(metrics::names::endpoints_reloads_total,
                                           "Reads of a changed endpoints file, by result (error: last good list kept).");
    for (const auto& s : services) {
      if (s->config().kubernetes) continue;
      metrics::add_sample(reloads, static_cast<double>(s->reloads_ok()), {{"service", s->config().name}, {"result", "ok"}});
      metrics::add_sample(reloads, static_cast<double>(s->reload_errors()),
                          {{"service", s->config().name}, {"result", "error"}});
    }
    return std::vector<prometheus::MetricFamily>{reloads};
  }));

  // Rebalance after a scale-up: a tick every 100 ms closes what the policy picks within the rate.
  std::unique_ptr<proxy::Rebalancer> rebalancer;
  if (spliced) {
    std::vector<proxy::Rebalancer::Service> rebalance_services;
    for (const auto& s : services) rebalance_services.push_back({s->config().name, &s->steering()});
    rebalancer = std::make_unique<proxy::Rebalancer>(config.rebalance, std::move(rebalance_services), *spliced);
    metrics.add_collectable(std::make_shared<metrics::FunctionCollector>([&] { return rebalancer->families(); }));
  }
  asio::steady_timer rebalance_timer(control);
  std::function<void()> rebalance_tick = [&] {
    rebalancer->tick();
    rebalance_timer.expires_after(std::chrono::milliseconds(100));
    rebalance_timer.async_wait([&](boost::system::error_code ec) {
      if (!ec) rebalance_tick();
    });
  };
  if (rebalancer && rebalancer->enabled()) {
    spdlog::info("rebalance on: above {} x the mean, {} closes/s, min age {} s", config.rebalance.above,
                 config.rebalance.rate, std::chrono::duration<double>(config.rebalance.min_age).count());
    rebalance_tick();
  }

  const auto open_connections = [&] {
    std::int64_t n = spliced ? static_cast<std::int64_t>(spliced->size()) : 0;
    for (const auto& s : services) n += s->handshaking() + s->http_connections();
    return n;
  };
  const auto all_loaded = [&] {
    return std::all_of(services.begin(), services.end(), [](const auto& s) { return s->loaded(); });
  };

  for (auto& s : services) s->start();
  spdlog::info("{} service(s), {} datapath, {} workers", services.size(), splice ? "splice" : "userspace", nworkers);


  // The scaler (docs/scaling.md): every agent reports its connections at /v1/connections; where a
  // Service scales, the agents elect one leader per workload, which sums the reports and decides.
  const auto connections_report = [&] {
    admin::ConnectionsReport report;
    report.agent = config.scaler.pod_name;
    report.time = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    for (const auto& s : services) {
      admin::ServiceConnections sc{s->config().name, {}};
      for (const auto& b : s->steering().snapshot()) sc.backends.push_back({b.backend.name, b.active_connections});
      report.services.push_back(std::move(sc));
    }
    return report;
  };
  std::unique_ptr<ScalingRuntime> scaling;
  if (ScalingRuntime::wanted(config)) {
    scaling = std::make_unique<ScalingRuntime>(config, kube);
    metrics.add_collectable(std::make_shared<metrics::FunctionCollector>([&] { return scaling->metric_families(); }));
    scaling->start();
    spdlog::info("scaler: agent {} in namespace {}, agents from {}", config.scaler.pod_name, config.scaler.pod_namespace,
                 config.scaler.peers_service->label());
  }

  asio::steady_timer publish_timer(control);
  std::function<void()> publish_tick = [&] {
    publish();
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
              for (const auto& s : services) {
                if (!s->loaded()) return (why = "service " + s->config().name + ": endpoints not loaded", false);
                if (!s->accepting()) return (why = "not accepting (shutting down)", false);
              }
              return true;
            },
            [&](const boost::urls::url_view& url) -> std::optional<admin::AdminAnswer> {
              if (url.path() == "/v1/connections")
                return admin::AdminAnswer{200, "application/json", admin::format_connections_report(connections_report())};
              if (url.path() == "/v1/scaling") {
                const auto params = url.params();
                const auto service = params.find("service");
                if (service == params.end() || !(*service).has_value)
                  return admin::AdminAnswer{400, "application/json", R"({"error":"give ?service=NAMESPACE/NAME"})"};
                if (!scaling)
                  return admin::AdminAnswer{404, "application/json", R"({"error":"no Service of this agent scales"})"};
                auto [status, body] = scaling->scaling_answer((*service).value, params.contains("local"));
                return admin::AdminAnswer{static_cast<unsigned>(status), "application/json", std::move(body)};
              }
              return std::nullopt;
            }});
    admin->start();
  }

  // wsteerctl's control socket: drain/undrain, lookup, live status and counters. It stays open
  // through the shutdown grace period so an operator can watch the flows drain.
  const auto started_at = std::chrono::steady_clock::now();
  admin::ControlContext control_context{{}, config.proxy.max_tries, publish, {}, {}};
  for (const auto& s : services)
    control_context.services.push_back({s->config().name, &s->steering(), s->steering_config()});
  control_context.status = [&] {
    std::uint64_t reloads_ok = 0, reload_errors = 0;
    boost::json::array service_list;
    for (const auto& s : services) {
      reloads_ok += s->reloads_ok();
      reload_errors += s->reload_errors();
      service_list.push_back(boost::json::object{{"name", s->config().name},
                                                 {"listen", format_endpoint(s->config().listen)},
                                                 {"source", s->source_kind()},
                                                 {"endpoints_loaded", s->loaded()},
                                                 {"endpoints_version", s->steering().endpoints_version()},
                                                 {"accepting", s->accepting()},
                                                 {"handshaking", s->handshaking()},
                                                 {"http_connections", s->http_connections()},
                                                 {"http_requests", s->http_requests()}});
    }
    std::int64_t handshaking = 0;
    std::int64_t http_connections = 0;
    std::uint64_t http_requests = 0;
    for (const auto& s : services) {
      handshaking += s->handshaking();
      http_connections += s->http_connections();
      http_requests += s->http_requests();
    }
    boost::json::object st{
        {"pid", ::getpid()},
        {"uptime_seconds",
         std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_at).count()},
        {"datapath", splice ? "splice" : "userspace"},
        {"listen", format_endpoint(services.front()->config().listen)},
        {"accepting", services.front()->accepting()},
        {"workers", nworkers},
        {"open_connections", open_connections()},
        {"handshaking", handshaking},
        {"http_connections", http_connections},
        {"http_requests", http_requests},
        {"endpoints_loaded", all_loaded()},
        {"endpoints_reloads_ok", reloads_ok},
        {"endpoints_reload_errors", reload_errors},
        {"services", std::move(service_list)}};
    if (spliced) {
      const auto fs = spliced->stats();
      st["spliced_flows"] = fs.flows;
      st["spliced_bytes_in_flight"] = fs.bytes_in_middle;
    }
    return st;
  };
  control_context.counters = [&] { return admin::counters_json(metrics.registry().Collect()); };
  if (rebalancer) control_context.rebalance_dry_run = [&] { return rebalancer->dry_run(); };
  // Without it the agent still balances (e.g. run unprivileged with --datapath userspace); only
  // wsteerctl's drain/lookup are lost, and it says the agent is not reachable.
  std::unique_ptr<admin::ControlServer> control_server;
  std::unique_ptr<HandoffSender> handoff;  // a successor's "takeover" (docs/handoff.md)
  std::function<void(const std::string&)> begin_shutdown;
  try {
    control_server = std::make_unique<admin::ControlServer>(
        control, control_path,
        [&control_context](const boost::json::object& request) {
          return admin::handle_control_request(control_context, request);
        });
    handoff = std::make_unique<HandoffSender>(HandoffSource{
        datapath.get(), spliced.get(), config.shutdown_grace,
        [&] {
          std::vector<HandoffListener> out;
          for (auto& s : services) {
            s->listener().pause();
            const auto& l = s->config().listen;
            out.push_back({core::tcp_socket_key(l.address().to_string(), l.port()),
                           UniqueFd(::fcntl(s->listener().native_handle(), F_DUPFD_CLOEXEC, 0))});
          }
          if (admin)
            out.push_back({core::tcp_socket_key(config.metrics_listen->address().to_string(), config.metrics_listen->port()),
                           UniqueFd(::fcntl(admin->native_handle(), F_DUPFD_CLOEXEC, 0))});
          out.push_back({core::unix_socket_key(control_server->path().string()), UniqueFd(control_server->dup_listener())});
          return out;
        },
        [&] {
          for (auto& s : services) s->listener().resume();
        },
        [&] {
          std::int64_t n = 0;
          for (const auto& s : services) n += s->handshaking();
          return n;
        },
        [&](const proxy::SplicedFlow& flow) { return describe_flow(flow, services); },
        [&] { control_server->hand_over(); },
        [&] {
          asio::post(control, [&] {
            if (!config.idle_after_handoff) return begin_shutdown("handed over to the successor");
            // Nothing left to serve; the successor answers on the shared metrics socket now
            // (this agent's probes would report it not ready, and its verdict as detached).
            for (auto& s : services) s->stop_accepting();
            if (scaling) scaling->stop();
            rebalance_timer.cancel();
            if (admin) admin->stop();
            spdlog::info("handed over to the successor: idle until SIGTERM");
          });
        }});
    control_server->set_stream_handler("takeover", [&](int socket, const boost::json::object& request) {
      handoff->start(socket, request);
    });
    control_server->start();
    spdlog::info("control socket {}", control_server->path().string());
  } catch (const std::exception& e) {
    spdlog::error("no control socket for wsteerctl: {}", e.what());
  }
  for (const auto& key : core::drop_inherited_sockets())
    spdlog::warn("hand-off: the previous agent listened on {}, this one does not: closed", key);

  // SIGTERM/SIGINT: stop accepting, let flows end within the grace period, then clean up.
  asio::signal_set signals(control, SIGTERM, SIGINT);
  asio::steady_timer grace_timer(control);
  const auto deadline_holder = std::make_shared<std::chrono::steady_clock::time_point>();
  std::function<void()> wait_for_flows = [&] {
    if (open_connections() == 0 || std::chrono::steady_clock::now() >= *deadline_holder) {
      if (open_connections() > 0) spdlog::warn("shutdown grace period over: closing {} connections", open_connections());
      if (admin) admin->stop();
      control.stop();
      return;
    }
    grace_timer.expires_after(std::chrono::milliseconds(100));
    grace_timer.async_wait([&](boost::system::error_code) { wait_for_flows(); });
  };
  begin_shutdown = [&](const std::string& why) {
    spdlog::info("{}: no new connections; {} open, grace {} s", why, open_connections(),
                 config.shutdown_grace.count());
    for (auto& s : services) s->stop_accepting();
    if (scaling) scaling->stop();  // a leader releases its Lease: another agent takes over at once
    rebalance_timer.cancel();  // shutting down: no more closes of our own
    *deadline_holder = std::chrono::steady_clock::now() + config.shutdown_grace;
    wait_for_flows();
  };
  signals.async_wait([&](boost::system::error_code ec, int signo) {
    if (ec) return;
    signals.async_wait([&](boost::system::error_code, int) {  // a second signal: stop now
      *deadline_holder = std::chrono::steady_clock::now();
    });
    begin_shutdown("signal " + std::to_string(signo));
  });

  // Hand-off, new agent: adopt the flows once the endpoints are in (leases count by backend name),
  // then accept (until then the old agent does, or the backlog keeps the clients waiting). Started
  // last: a start that fails before this point has received no flow, and the old agent, seeing
  // the connection close, serves on.
  std::thread takeover_thread;
  if (takeover) {
    for (auto& s : services) s->listener().hold();
    takeover_thread = std::thread([&] {
      const auto loaded_by = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (!all_loaded() && std::chrono::steady_clock::now() < loaded_by)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      try {
        takeover->receive_flows([&](const boost::json::object& meta, UniqueFd client, UniqueFd backend) {
          if (!spliced) throw std::runtime_error("this agent runs the userspace datapath: spliced flows cannot be adopted");
          spliced->adopt(rebuild_flow(meta, std::move(client), std::move(backend), services, metrics));
        });
        if (datapath) datapath->confirm_adoption();  // the pins and the attachment are ours now
      } catch (const std::exception& e) {
        spdlog::error("hand-off: {} ({} flows adopted)", e.what(), takeover->adopted());
      }
      for (auto& s : services) s->listener().resume();
    });
  }

  std::vector<std::thread> threads;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (auto& w : workers) {
    guards.push_back(asio::make_work_guard(*w));
    threads.emplace_back([ctx = w.get()] { ctx->run(); });
  }
  control.run();

  // Orderly end: workers stop (userspace relays and handshakes are dropped with them), endpoint
  // sources stop, spliced flows are closed, then the datapath unpins its maps and removes its folder.
  for (auto& w : workers) w->stop();
  for (auto& t : threads) t.join();
  if (takeover_thread.joinable()) takeover_thread.join();
  handoff.reset();  // a hand-off in progress ends (its thread posts nothing after finished)
  for (auto& s : services) s->stop_source();
  if (scaling) scaling->stop();
  admin.reset();  // its handlers read the flows, the services and the datapath
  control_server.reset();
  scaling.reset();  // its metrics read the scalers: after the admin server
  spliced.reset();  // tells each flow's Service steering: before the services go
  publisher.reset();
  services.clear();
  xdp.reset();  // a clean exit detaches the XDP guard and removes its pins (after the flows counted out)
  datapath.reset();
  spdlog::info("stopped");
  return 0;
}

}  // namespace wsteer::app
