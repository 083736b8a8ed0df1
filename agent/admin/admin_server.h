// The agent's small HTTP server: /metrics (Prometheus text), /healthz, /readyz, and the JSON the
// scaler reads (AdminHandlers::more). It runs on a
// thread of its own, so a slow scrape (walking large BPF maps) never delays accepting clients,
// and the probes still answer while the proxy's threads are busy.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <boost/url/url_view.hpp>

#include <functional>
#include <optional>
#include <string>
#include <thread>

namespace wsteer::admin {

// An answer of one of the further paths (AdminHandlers::more).
struct AdminAnswer {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// Called on the admin thread: each must be safe to call concurrently with the proxy.
struct AdminHandlers {
  std::function<std::string()> metrics;  // text exposition format
  // Liveness (Kubernetes restarts the pod on failure): process up, programs attached.
  std::function<bool(std::string& why)> healthy;
  // Readiness (Kubernetes stops sending traffic on failure): endpoints loaded, listener open.
  std::function<bool(std::string& why)> ready;
  // Any other GET (/v1/connections, /v1/scaling?...): the answer, or nullopt for a 404. May be empty.
  std::function<std::optional<AdminAnswer>(const boost::urls::url_view& target)> more;
};

class AdminServer {
 public:
  // Binds at once (or takes the socket a predecessor handed over, core/inherited_sockets.h);
  // throws boost::system::system_error on failure.
  AdminServer(const boost::asio::ip::tcp::endpoint& endpoint, AdminHandlers handlers);
  ~AdminServer();  // stop()
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  void start();  // starts the thread
  // Closes the listener and every open request, and joins the thread: no handler runs after it.
  void stop();
  int native_handle() { return acceptor_.native_handle(); }  // hand-off: duplicated for the successor

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);
  std::optional<AdminAnswer> more(std::string_view target) const;

  boost::asio::io_context io_{1};
  boost::asio::ip::tcp::acceptor acceptor_;
  AdminHandlers handlers_;
  std::thread thread_;
};

}  // namespace wsteer::admin
