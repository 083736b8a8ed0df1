#include "app/agent.h"

#include "app/agent_status.h"
#include "app/flow_metrics.h"
#include "app/graceful_shutdown.h"
#include "app/handoff_flows.h"
#include "app/handoff_receiver.h"
#include "app/handoff_sender.h"
#include "app/kubernetes_metrics.h"
#include "app/map_publisher.h"
#include "app/repeating_timer.h"
#include "app/scaling_runtime.h"
#include "app/service_runtime.h"
#include "app/worker_pool.h"
#include "app/xdp_front_door.h"

#include "admin/admin_server.h"
#include "admin/connections_report.h"
#include "admin/control_commands.h"
#include "admin/control_protocol.h"
#include "admin/control_server.h"
#include "core/inherited_sockets.h"
#include "core/logging.h"
#include "datapath/splice_datapath.h"
#include "k8s/api_client.h"
#include "metrics/agent_metrics.h"
#include "metrics/datapath_collector.h"
#include "metrics/function_collector.h"
#include "metrics/metric_names.h"
#include "proxy/rebalancer.h"
#include "proxy/spliced_flows.h"
#include "steering/steering.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
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
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) spdlog::warn("cannot raise the open-file limit to {}", lim.rlim_max);
  }
}

// The agent's components, declared (and built by the constructor) in the order they depend on each
// other: the datapath before anything that splices, the XDP guard before any listener accepts, the
// workers before the Services that hand them connections, the Services before what reads them
// (map publisher, rebalancer, metrics, admin and control servers). run() starts them in that order
// and serves; stop() ends them in the order spelled out there.
class Agent {
 public:
  explicit Agent(const AgentConfig& config);
  ~Agent() { stop(); }
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Starts every component and serves until SIGTERM/SIGINT and the grace period are over.
  void run();

 private:
  void build_datapath();
  void build_kubernetes();
  void build_services();
  void build_metrics();
  void build_rebalancer();
  void build_scaling();
  void build_admin_server();
  void build_control_server();
  void build_handoff_sender();
  // --takeover: adopt the predecessor's flows, then accept (on its own thread: it blocks).
  void take_over();
  // The predecessor took everything: stop, or idle until SIGTERM (--idle-after-handoff).
  void handed_over();
  std::vector<HandoffListener> pause_listeners();
  void stop();

  std::int64_t open_connections() const;
  admin::ConnectionsReport connections_report() const;
  bool healthy(std::string& why) const;
  bool ready(std::string& why) const;
  std::optional<admin::AdminAnswer> admin_route(const boost::urls::url_view& url) const;
  void publish() {
    if (publisher_) publisher_->publish();
  }

  const AgentConfig& config_;
  const bool splice_;
  const std::filesystem::path control_path_;
  const std::chrono::steady_clock::time_point started_at_ = std::chrono::steady_clock::now();
  metrics::AgentMetrics metrics_;
  // Backend ids index node-wide maps: every Service claims its ids from one pool.
  std::shared_ptr<steering::BackendIdPool> backend_ids_ = std::make_shared<steering::BackendIdPool>();
  // --takeover (docs/handoff.md): the running agent's listening sockets first (it stops accepting
  // and drops the pin folder's lock), then its maps, then (take_over) its flows. Any failure before
  // the first acknowledgement closes the connection, and the old agent serves on.
  std::unique_ptr<HandoffReceiver> takeover_;
  std::unique_ptr<datapath::SpliceDatapath> datapath_;
  std::unique_ptr<proxy::SplicedFlows> spliced_;
  std::unique_ptr<XdpFrontDoor> xdp_;
  // Threads: the control io_context (accept, signals, timers, control socket) runs on run()'s
  // thread, one io_context per worker, and the admin server has its own (scrapes and probes never
  // wait behind accepts). The workers are declared first so that they outlive the control
  // context: an accept still pending there at the end holds a socket made on a worker's context,
  // and destroying that operation touches the worker's socket service (ASan: use after free).
  WorkerPool workers_;
  asio::io_context control_;
  std::shared_ptr<k8s::ApiClient> kube_;
  std::unique_ptr<KubernetesMetrics> kube_metrics_;
  std::vector<std::unique_ptr<ServiceRuntime>> services_;
  std::unique_ptr<MapPublisher> publisher_;
  RepeatingTimer publish_timer_;
  std::unique_ptr<proxy::Rebalancer> rebalancer_;
  RepeatingTimer rebalance_timer_;
  std::unique_ptr<ScalingRuntime> scaling_;
  std::unique_ptr<admin::AdminServer> admin_;
  admin::ControlContext control_context_;
  std::unique_ptr<admin::ControlServer> control_server_;
  std::unique_ptr<HandoffSender> handoff_;  // a successor's "takeover"
  GracefulShutdown shutdown_;
  std::thread takeover_thread_;
  bool stopped_ = false;
};

Agent::Agent(const AgentConfig& config)
    : config_(config),
      splice_(config.proxy.datapath == proxy::DatapathMode::splice),
      control_path_(config.control_socket.empty() ? admin::default_control_socket(config.bpffs) : config.control_socket),
      workers_(config.workers),
      publish_timer_(control_, std::chrono::seconds(1), [this] { publish(); }),
      rebalance_timer_(control_, std::chrono::milliseconds(100), [this] { rebalancer_->tick(); }),
      shutdown_(control_, config.shutdown_grace,
                {[this] {
                   for (auto& s : services_) s->stop_accepting();
                   if (scaling_) scaling_->stop();  // a leader releases its Lease: another agent takes over at once
                   rebalance_timer_.stop();         // shutting down: no more closes of our own
                 },
                 [this] { return open_connections(); },
                 [this] {
                   if (admin_) admin_->stop();
                   control_.stop();
                 }}) {
  if (config_.takeover) takeover_ = HandoffReceiver::connect(control_path_, config_.xdp.enabled());
  build_datapath();
  // The XDP front door, before any listener accepts: its connection counts must see every client.
  if (config_.xdp.enabled())
    xdp_ = std::make_unique<XdpFrontDoor>(config_, metrics_, datapath_.get(), takeover_ && takeover_->xdp_handed_over());
  if (takeover_) handoff_fail_point("receiver-after-xdp");
  build_kubernetes();
  build_services();
  build_metrics();
  build_rebalancer();
  build_scaling();
  build_admin_server();
  build_control_server();
}

void Agent::build_datapath() {
  if (!splice_) return;
  datapath_ = std::make_unique<datapath::SpliceDatapath>(config_.bpffs, config_.steering.maglev_size,
                                                         config_.proxy.splice_buffer_limit,
                                                         static_cast<std::uint32_t>(config_.services.size()),
                                                         config_.rebalance.above > 0, takeover_ != nullptr);
  // Each flow owns its counts (steering, the active-connections gauge): ending it ends them.
  spliced_ = std::make_unique<proxy::SplicedFlows>(*datapath_, &metrics_);
  spdlog::info("splice datapath loaded, maps pinned in {}", config_.bpffs.string());
  if (takeover_) handoff_fail_point("receiver-after-maps");
}

// Kubernetes Services share one API client (in-cluster ServiceAccount, or --kubeconfig). A missing
// or unusable configuration fails the start; an unreachable server does not (the sources retry and
// the services stay not ready).
void Agent::build_kubernetes() {
  if (std::none_of(config_.services.begin(), config_.services.end(), [](const auto& s) { return s.kubernetes.has_value(); }))
    return;
  kube_ = std::make_shared<k8s::ApiClient>(k8s::load_cluster_config(config_.kubeconfig));
  kube_metrics_ = std::make_unique<KubernetesMetrics>(metrics_.registry());
  spdlog::info("Kubernetes API server {} ({})", kube_->config().server, kube_->config().origin);
}

// One runtime per Service: binds its listener now (a taken port fails the start).
void Agent::build_services() {
  const ServiceRuntime::Shared shared{config_, backend_ids_, metrics_, datapath_.get(), spliced_.get(), control_,
                                      workers_.contexts(), kube_, kube_metrics_.get(), xdp_ ? xdp_->conns() : nullptr};
  for (std::size_t i = 0; i < config_.services.size(); ++i)
    services_.push_back(std::make_unique<ServiceRuntime>(static_cast<std::uint32_t>(i), config_.services[i], shared));
  if (datapath_) publisher_ = std::make_unique<MapPublisher>(*datapath_, services_);
  for (auto& s : services_) s->set_on_published([this] { publish(); });
}

void Agent::build_metrics() {
  std::vector<metrics::ServiceSteering> steerings;
  for (const auto& s : services_) steerings.push_back({s->config().name, &s->steering()});
  metrics_.add_collectable(std::make_shared<metrics::DatapathCollector>(datapath_.get(), steerings));
  if (spliced_)
    metrics_.add_collectable(
        std::make_shared<metrics::FunctionCollector>([this] { return flow_metric_families(spliced_->stats()); }));
  metrics_.add_collectable(std::make_shared<metrics::FunctionCollector>([this] {
    auto reloads = metrics::counter_family(metrics::names::endpoints_reloads_total,
                                           "Reads of a changed endpoints file, by result (error: last good list kept).");
    for (const auto& s : services_) {
      if (s->config().kubernetes) continue;
      metrics::add_sample(reloads, static_cast<double>(s->reloads_ok()), {{"service", s->config().name}, {"result", "ok"}});
      metrics::add_sample(reloads, static_cast<double>(s->reload_errors()),
                          {{"service", s->config().name}, {"result", "error"}});
    }
    return std::vector<prometheus::MetricFamily>{reloads};
  }));
}

// Rebalance after a scale-up: a tick every 100 ms closes what the policy picks within the rate.
void Agent::build_rebalancer() {
  if (!spliced_) return;
  std::vector<proxy::Rebalancer::Service> rebalance_services;
  for (const auto& s : services_) rebalance_services.push_back({s->config().name, &s->steering()});
  rebalancer_ = std::make_unique<proxy::Rebalancer>(config_.rebalance, std::move(rebalance_services), *spliced_);
  metrics_.add_collectable(std::make_shared<metrics::FunctionCollector>([this] { return rebalancer_->families(); }));
}

// The scaler (docs/scaling.md): every agent reports its connections at /v1/connections; where a
// Service scales, the agents elect one leader per workload, which sums the reports and decides.
void Agent::build_scaling() {
  if (!ScalingRuntime::wanted(config_)) return;
  scaling_ = std::make_unique<ScalingRuntime>(config_, kube_);
  metrics_.add_collectable(std::make_shared<metrics::FunctionCollector>([this] { return scaling_->metric_families(); }));
}

void Agent::build_admin_server() {
  if (!config_.metrics_listen) return;
  admin_ = std::make_unique<admin::AdminServer>(
      *config_.metrics_listen,
      admin::AdminHandlers{[this] { return metrics_.serialize(); }, [this](std::string& why) { return healthy(why); },
                           [this](std::string& why) { return ready(why); },
                           [this](const boost::urls::url_view& url) { return admin_route(url); }});
}

// wsteerctl's control socket: drain/undrain, lookup, live status and counters. It stays open
// through the shutdown grace period so an operator can watch the flows drain. Without it the agent
// still balances (e.g. run unprivileged with --datapath userspace); only wsteerctl's drain/lookup
// are lost, and it says the agent is not reachable.
void Agent::build_control_server() {
  control_context_.max_tries = config_.proxy.max_tries;
  control_context_.state_changed = [this] { publish(); };
  for (const auto& s : services_)
    control_context_.services.push_back({s->config().name, &s->steering(), s->steering_config()});
  control_context_.status = [this] {
    AgentFacts facts{started_at_, splice_, workers_.size(), open_connections(), std::nullopt};
    if (spliced_) facts.flows = spliced_->stats();
    return agent_status(services_, facts);
  };
  control_context_.counters = [this] { return admin::counters_json(metrics_.registry().Collect()); };
  if (rebalancer_) control_context_.rebalance_dry_run = [this] { return rebalancer_->dry_run(); };
  try {
    control_server_ = std::make_unique<admin::ControlServer>(
        control_, control_path_,
        [this](const boost::json::object& request) { return admin::handle_control_request(control_context_, request); });
    build_handoff_sender();
  } catch (const std::exception& e) {
    spdlog::error("no control socket for wsteerctl: {}", e.what());
  }
  for (const auto& key : core::drop_inherited_sockets())
    spdlog::warn("hand-off: the previous agent listened on {}, this one does not: closed", key);
}

// The old agent's side of a hand-off: a successor's "takeover" on the control socket.
void Agent::build_handoff_sender() {
  handoff_ = std::make_unique<HandoffSender>(HandoffSource{
      datapath_.get(), spliced_.get(), xdp_.get(), config_.shutdown_grace, [this] { return pause_listeners(); },
      [this] {
        for (auto& s : services_) s->listener().resume();
      },
      [this] {
        std::int64_t n = 0;
        for (const auto& s : services_) n += s->handshaking();
        return n;
      },
      [this](const proxy::SplicedFlow& flow) { return describe_flow(flow, services_); },
      [this] { control_server_->hand_over(); }, [this] { asio::post(control_, [this] { handed_over(); }); }});
  control_server_->set_stream_handler(
      "takeover", [this](int socket, const boost::json::object& request) { handoff_->start(socket, request); });
}

std::vector<HandoffListener> Agent::pause_listeners() {
  std::vector<HandoffListener> out;
  for (auto& s : services_) {
    s->listener().pause();
    const auto& l = s->config().listen;
    out.push_back({core::tcp_socket_key(l.address().to_string(), l.port()),
                   UniqueFd(::fcntl(s->listener().native_handle(), F_DUPFD_CLOEXEC, 0))});
  }
  if (admin_)
    out.push_back({core::tcp_socket_key(config_.metrics_listen->address().to_string(), config_.metrics_listen->port()),
                   UniqueFd(::fcntl(admin_->native_handle(), F_DUPFD_CLOEXEC, 0))});
  out.push_back({core::unix_socket_key(control_server_->path().string()), UniqueFd(control_server_->dup_listener())});
  return out;
}

void Agent::handed_over() {
  if (!config_.idle_after_handoff) return shutdown_.begin("handed over to the successor");
  // Nothing left to serve; the successor answers on the shared metrics socket now (this agent's
  // probes would report it not ready, and its verdict as detached).
  for (auto& s : services_) s->stop_accepting();
  if (scaling_) scaling_->stop();
  rebalance_timer_.stop();
  if (admin_) admin_->stop();
  spdlog::info("handed over to the successor: idle until SIGTERM");
}

// Adopts the flows once the endpoints are in (leases count by backend name), then accepts (until
// then the old agent does, or the backlog keeps the clients waiting). Started last: a start that
// fails before this point has received no flow, and the old agent, seeing the connection close,
// serves on.
void Agent::take_over() {
  for (auto& s : services_) s->listener().hold();
  takeover_thread_ = std::thread([this] {
    const auto loaded_by = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    const auto all_loaded = [this] {
      return std::all_of(services_.begin(), services_.end(), [](const auto& s) { return s->loaded(); });
    };
    while (!all_loaded() && std::chrono::steady_clock::now() < loaded_by)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    try {
      takeover_->receive_flows([this](const boost::json::object& meta, UniqueFd client, UniqueFd backend) {
        if (!spliced_) throw std::runtime_error("this agent runs the userspace datapath: spliced flows cannot be adopted");
        auto flow = rebuild_flow(meta, std::move(client), std::move(backend), services_, metrics_);
        if (xdp_) xdp_->conns()->adopted(flow.sockets.client_cookie, flow.client.get());
        spliced_->adopt(std::move(flow));
      });
      if (datapath_) datapath_->confirm_adoption();  // the pins and the attachment are ours now
      if (xdp_) xdp_->confirm_adoption();
    } catch (const std::exception& e) {
      spdlog::error("hand-off: {} ({} flows adopted)", e.what(), takeover_->adopted());
      // If the old agent died, the flows it had not sent yet died with it: their entries go.
      if (spliced_) spliced_->sweep_orphans_later();
    }
    for (auto& s : services_) s->listener().resume();
  });
}

void Agent::run() {
  for (auto& s : services_) s->start();
  spdlog::info("{} service(s), {} datapath, {} workers", services_.size(), splice_ ? "splice" : "userspace",
               workers_.size());
  if (rebalancer_ && rebalancer_->enabled()) {
    spdlog::info("rebalance on: above {} x the mean, {} closes/s, min age {} s, close timeout {} s", config_.rebalance.above,
                 config_.rebalance.rate, std::chrono::duration<double>(config_.rebalance.min_age).count(),
                 std::chrono::duration<double>(config_.rebalance.close_timeout).count());
    rebalance_timer_.start();
  }
  if (scaling_) {
    scaling_->start();
    spdlog::info("scaler: agent {} in namespace {}, agents from {}", config_.scaler.pod_name,
                 config_.scaler.pod_namespace, config_.scaler.peers_service->label());
  }
  publish_timer_.start();
  if (admin_) admin_->start();
  if (control_server_) {
    try {
      control_server_->start();
      spdlog::info("control socket {}", control_server_->path().string());
    } catch (const std::exception& e) {
      spdlog::error("no control socket for wsteerctl: {}", e.what());
    }
  }
  shutdown_.arm();
  if (takeover_) take_over();
  workers_.run();
  control_.run();
  stop();
}

// The orderly end, each step before what it depends on goes away.
void Agent::stop() {
  if (std::exchange(stopped_, true)) return;
  workers_.stop();  // userspace relays and handshakes are dropped with them
  if (takeover_thread_.joinable()) takeover_thread_.join();
  handoff_.reset();  // a hand-off in progress ends (its thread posts nothing after finished)
  for (auto& s : services_) s->stop_source();
  if (scaling_) scaling_->stop();
  admin_.reset();           // its handlers read the flows, the services and the datapath
  control_server_.reset();  // likewise
  scaling_.reset();         // its metrics read the scalers: after the admin server
  rebalancer_.reset();      // holds the flow table
  spliced_.reset();         // each flow tells its Service's steering: before the services go
  publisher_.reset();
  services_.clear();
  xdp_.reset();       // a clean exit detaches the XDP guard and removes its pins (after the flows counted out)
  datapath_.reset();  // unpins the maps, removes the folder
  spdlog::info("stopped");
}

std::int64_t Agent::open_connections() const {
  std::int64_t n = spliced_ ? static_cast<std::int64_t>(spliced_->size()) : 0;
  for (const auto& s : services_) n += s->handshaking() + s->http_connections();
  return n;
}

admin::ConnectionsReport Agent::connections_report() const {
  admin::ConnectionsReport report;
  report.agent = config_.scaler.pod_name;
  report.time = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  for (const auto& s : services_) {
    admin::ServiceConnections sc{s->config().name, {}};
    for (const auto& b : s->steering().snapshot()) sc.backends.push_back({b.backend.name, b.active_connections});
    report.services.push_back(std::move(sc));
  }
  return report;
}

// Liveness, asked of the kernel: a detached verdict would leave spliced flows without a datapath.
bool Agent::healthy(std::string& why) const {
  if (splice_ && (!datapath_ || !datapath_->verdict_attached()))
    return (why = "splice verdict not attached to wsteer_spliced", false);
  return true;
}

bool Agent::ready(std::string& why) const {
  for (const auto& s : services_) {
    if (!s->loaded()) return (why = "service " + s->config().name + ": endpoints not loaded", false);
    if (!s->accepting()) return (why = "not accepting (shutting down)", false);
  }
  return true;
}

std::optional<admin::AdminAnswer> Agent::admin_route(const boost::urls::url_view& url) const {
  if (url.path() == "/v1/connections")
    return admin::AdminAnswer{200, "application/json", admin::format_connections_report(connections_report())};
  if (url.path() == "/v1/scaling") {
    const auto params = url.params();
    const auto service = params.find("service");
    if (service == params.end() || !(*service).has_value)
      return admin::AdminAnswer{400, "application/json", R"({"error":"give ?service=NAMESPACE/NAME"})"};
    if (!scaling_) return admin::AdminAnswer{404, "application/json", R"({"error":"no Service of this agent scales"})"};
    auto [status, body] = scaling_->scaling_answer((*service).value, params.contains("local"));
    return admin::AdminAnswer{static_cast<unsigned>(status), "application/json", std::move(body)};
  }
  return std::nullopt;
}

}  // namespace

int run_agent(const AgentConfig& config) {
  setup_logging(config.log_level, config.log_format);
  raise_fd_limit();
  Agent agent(config);
  agent.run();
  return 0;
}

}  // namespace wsteer::app
