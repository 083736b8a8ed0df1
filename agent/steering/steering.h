// The narrow steering interface the proxy uses: (request, client address) -> backends to try.
// Pure logic: no sockets, no BPF. Implementations are thread-safe: choose() runs on every worker
// thread while update_endpoints() runs on the endpoints watcher's thread.
#pragma once

#include "steering/endpoint.h"

#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace wsteer::steering {

using Request = boost::beast::http::request<boost::beast::http::empty_body>;

// A backend as the proxy needs it to connect and to account.
struct Backend {
  std::uint32_t id = 0;  // stable while the backend exists (and drains); < WSTEER_MAX_BACKENDS
  std::string name;
  boost::asio::ip::address address;
  std::uint16_t port = 0;
};

struct Choice {
  enum class Result { ok, no_backends, all_full };
  Result result = Result::no_backends;
  // In preference order for this key; the proxy connects to the first and falls back to the
  // next on refusal or timeout (at most max_tries). Empty unless result == ok.
  std::vector<Backend> candidates;
  std::string key_source;  // which key decided, e.g. "query:room", "sec-websocket-key", "sticky-cookie"
  std::string reason;      // human-readable detail for logs / wsteerctl lookup (skips, slot)
};

enum class BackendState { active, draining, unhealthy };

struct BackendStatus {
  Backend backend;
  BackendState state = BackendState::active;
  std::uint32_t weight = 1;
  std::uint32_t max_connections = 0;
  double maglev_share = 0;  // fraction of table slots
  std::uint64_t active_connections = 0;
  std::uint64_t total_connections = 0;
  std::uint64_t connect_failures = 0;
  bool listed = true;  // false: left the endpoint list, draining until its last flow ends
};

class Steering {
 public:
  virtual ~Steering() = default;

  // Where should this request go? Never blocks, never throws on bad input.
  virtual Choice choose(const Request& request, const boost::asio::ip::address& client,
                        std::size_t max_tries) const = 0;

  // The Set-Cookie header value to add to the 101 for a connection that landed on `backend`,
  // or nothing when sticky cookies are off.
  virtual std::optional<std::string> sticky_cookie(const Backend& backend) const = 0;

  // Replace the endpoint set. Builds the new table off the hot path and swaps it in atomically.
  // Backends that left the list drain; established flows never move.
  virtual void update_endpoints(const EndpointList& endpoints) = 0;

  // Accounting reported by the proxy (bounded load, max-connections, circuit breaker).
  virtual void on_connect_failed(std::uint32_t backend_id) = 0;
  virtual void on_connected(std::uint32_t backend_id) = 0;     // connected, handshake relayed
  virtual void on_closed(std::uint32_t backend_id) = 0;         // a connection counted by on_connected ended

  // Operator actions (wsteerctl drain/undrain). False if no backend has that name.
  virtual bool set_draining(const std::string& name, bool draining) = 0;

  // Verdict of the agent's periodic TCP probe: an unhealthy backend gets no new connections
  // until a probe finds it healthy again, which also resets the passive circuit breaker.
  // Unknown ids are ignored. (Additive: the default ignores probes.)
  virtual void set_healthy(std::uint32_t backend_id, bool healthy) {}

  virtual std::vector<BackendStatus> snapshot() const = 0;
  // The current Maglev table: backend id per slot (published to the wsteer_maglev BPF map).
  virtual std::shared_ptr<const std::vector<std::uint32_t>> maglev_table() const = 0;
  virtual std::uint64_t endpoints_version() const = 0;  // bumps on every update_endpoints
};

}  // namespace wsteer::steering
