#include "proxy/session.h"

#include "datapath/socket_info.h"
#include "proxy/connection_counts.h"
#include "proxy/handshake_check.h"
#include "proxy/http_headers.h"
#include "proxy/http_proxy.h"
#include "proxy/splice_handoff.h"
#include "proxy/tcp_liveness.h"
#include "proxy/userspace_relay.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <vector>

namespace wsteer::proxy {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using metrics::Result;

namespace {

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kBackendHeaderLimit = 64 * 1024;
constexpr std::size_t kBackendBodyLimit = 1024 * 1024;

// Counts the session in ProxyContext::sessions while its coroutine runs (handshaking, or relaying
// in userspace): the open connections are these plus the spliced flows.
class SessionCount {
 public:
  explicit SessionCount(ProxyContext& ctx) : ctx_(ctx) { ctx_.sessions++; }
  ~SessionCount() { ctx_.sessions--; }
  SessionCount(const SessionCount&) = delete;
  SessionCount& operator=(const SessionCount&) = delete;

 private:
  ProxyContext& ctx_;
};

// Counts the client against its source in the XDP guard's connection cap while the session owns
// it; once spliced, SpliceDatapath::remove() counts it out instead (see agent.cpp).
class XdpSourceSlot {
 public:
  XdpSourceSlot(ProxyContext& ctx, tcp::socket& client, const asio::ip::address& peer) : counts_(ctx.xdp_conns) {
    if (!counts_) return;
    if (auto cookie = datapath::socket_cookie(client.native_handle())) {
      cookie_ = *cookie;
      counts_->opened(cookie_, peer);
    } else {
      counts_ = nullptr;
    }
  }
  ~XdpSourceSlot() {
    if (counts_ && !handed_off_) counts_->closed(cookie_);
  }
  XdpSourceSlot(const XdpSourceSlot&) = delete;
  XdpSourceSlot& operator=(const XdpSourceSlot&) = delete;
  void hand_off() { handed_off_ = true; }

 private:
  datapath::XdpConnCounts* counts_;
  std::uint64_t cookie_ = 0;
  bool handed_off_ = false;
};

std::array<std::uint8_t, 16> mapped_v6(const asio::ip::address& a) {
  if (a.is_v4()) return asio::ip::make_address_v6(asio::ip::v4_mapped, a.to_v4()).to_bytes();
  return a.to_v6().to_bytes();
}

void set_nodelay(tcp::socket& s) {
  boost::system::error_code ignored;
  s.set_option(tcp::no_delay(true), ignored);
}

// Which reason label a failed request read gets, and what the client is told.
struct ReadFailure {
  Result result;
  const char* reason;
  http::status status;  // unknown: close without answering
};

ReadFailure classify_read_error(const boost::system::error_code& ec) {
  if (ec == http::error::header_limit) return {Result::rejected, "header_too_large", http::status::request_header_fields_too_large};
  if (ec == beast::error::timeout) return {Result::rejected, "timeout", http::status::unknown};
  if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
      ec == asio::error::operation_aborted)
    return {Result::aborted, "client_closed", http::status::unknown};
  return {Result::rejected, "malformed", http::status::bad_request};
}

// The one log line of a connection's outcome: "connection <result> reason=<reason> client=..."
// (then what went wrong, for a human). Every rejected or failed connection gets exactly one, at
// info (the client's doing) or warn (a backend's or ours); a success gets one at debug only.
// `reason` is the same fixed-set label wsteer_connections_total counts.
void log_outcome(spdlog::level::level_enum level, Result result, std::string_view reason, std::string_view client,
                 std::string_view detail) {
  if (!spdlog::should_log(level)) return;
  if (detail.empty())
    spdlog::log(level, "connection {} reason={} client={}", metrics::to_string(result), reason, client);
  else
    spdlog::log(level, "connection {} reason={} client={}: {}", metrics::to_string(result), reason, client, detail);
}

// Counts and logs a connection's outcome together, so no path can do one without the other.
void finish(ProxyContext& ctx, spdlog::level::level_enum level, Result result, std::string_view reason,
            std::string_view client, std::string_view detail = {}) {
  ctx.metrics.connection(result, reason);
  log_outcome(level, result, metrics::bounded_reason(result, reason), client, detail);
}

std::string describe(const tcp::endpoint& e) {
  return e.address().is_v6() ? "[" + e.address().to_string() + "]:" + std::to_string(e.port())
                             : e.address().to_string() + ":" + std::to_string(e.port());
}

template <typename Stream>
asio::awaitable<void> send_error(Stream& stream, http::status status, const std::string& reason) {
  auto res = make_error_response(status, reason);
  co_await http::async_write(stream, res, kUse);
}

}  // namespace

asio::awaitable<void> run_session(ProxyContext& ctx, tcp::socket client_socket) {
  const auto started = std::chrono::steady_clock::now();
  SessionCount session(ctx);
  ActiveConnection active(ctx.metrics.active_connections());
  const auto& cfg = ctx.config;

  boost::system::error_code ec;
  const auto client_endpoint = client_socket.remote_endpoint(ec);
  if (ec) {
    finish(ctx, spdlog::level::info, Result::aborted, "client_closed", "unknown", "gone before accept completed");
    co_return;
  }
  XdpSourceSlot source_slot(ctx, client_socket, client_endpoint.address());
  const auto client_name = describe(client_endpoint);
  // TCP_NODELAY and the liveness options came with the socket from the listener (listener.cpp).
  beast::tcp_stream client(std::move(client_socket));

  // 1. The client's request: bounded in size and in time (a slow client is closed).
  beast::flat_buffer client_buffer;
  http::request_parser<http::empty_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(cfg.header_limit));
  parser.body_limit(boost::none);  // only the head is read here; a plain-HTTP body is judged by serve_http
  client.expires_after(cfg.handshake_timeout);
  auto [read_ec, request_bytes] = co_await http::async_read_header(client, client_buffer, parser, kUse);
  if (read_ec) {
    const auto failure = classify_read_error(read_ec);
    finish(ctx, spdlog::level::info, failure.result, failure.reason, client_name, read_ec.message());
    if (failure.status != http::status::unknown) co_await send_error(client, failure.status, failure.reason);
    co_return;
  }
  ctx.metrics.userspace_bytes(metrics::Direction::client_to_backend, request_bytes);
  // No Upgrade header: plain HTTP, proxied request by request until the connection ends or a
  // later request on it asks for the upgrade, which then continues here like a first one.
  steering::Request request;
  if (wants_upgrade(parser.get())) {
    request = parser.release();
  } else {
    auto upgrade = co_await serve_http(ctx, client, client_buffer, parser, client_endpoint);
    if (!upgrade) co_return;
    request = std::move(*upgrade);
  }

  const auto verdict = check_upgrade(request);
  if (!verdict.ok()) {
    finish(ctx, spdlog::level::info, Result::rejected, verdict.label, client_name, verdict.reason);
    co_await http::async_write(client, make_error_response(verdict), kUse);
    co_return;
  }

  // 2. Where to: the steering layer's candidates, in preference order.
  const auto choice = ctx.steering.choose(request, client_endpoint.address(), cfg.max_tries);
  if (choice.result != steering::Choice::Result::ok) {
    const bool full = choice.result == steering::Choice::Result::all_full;
    const char* reason = full ? "all_full" : "no_backends";
    finish(ctx, spdlog::level::warn, Result::unavailable, reason, client_name, "no eligible backend");
    co_await send_error(client, http::status::service_unavailable, reason);
    co_return;
  }

  // 3. Connect, falling back along the preference order on refusal or timeout.
  beast::tcp_stream backend(client.get_executor());
  const steering::Backend* chosen = nullptr;
  for (const auto& candidate : choice.candidates) {
    backend.expires_after(cfg.connect_timeout);
    auto [connect_ec] = co_await backend.async_connect(tcp::endpoint(candidate.address, candidate.port), kUse);
    if (!connect_ec) {
      chosen = &candidate;
      break;
    }
    if (connect_ec == asio::error::no_descriptors || connect_ec == boost::system::errc::too_many_files_open_in_system) {
      // The agent is out of descriptors, the backend is fine: not a connect failure of its own.
      finish(ctx, spdlog::level::warn, Result::unavailable, "descriptors", client_name,
             "no descriptor for the backend connection: " + connect_ec.message());
      co_await send_error(client, http::status::service_unavailable, "descriptors");
      co_return;
    }
    // About the backend, not the connection (which may still succeed on the next candidate);
    // wsteer_backend_connect_failures_total counts it through on_connect_failed().
    spdlog::warn("backend {} ({}:{}) connect failed: {}", candidate.name, candidate.address.to_string(),
                 candidate.port, connect_ec.message());
    ctx.steering.on_connect_failed(candidate.id);
    backend.close();
  }
  if (!chosen) {
    finish(ctx, spdlog::level::warn, Result::backend_error, "connect_failed", client_name,
           "no backend reachable after " + std::to_string(choice.candidates.size()) + " tries");
    co_await send_error(client, http::status::bad_gateway, "connect_failed");
    co_return;
  }
  set_nodelay(backend.socket());
  apply_tcp_liveness(backend.socket().native_handle(), cfg);
  BackendLease lease(ctx.steering, chosen->id);

  // 4. Relay the request, then any bytes the client sent after it, and read the answer.
  const auto client_ip = client_endpoint.address().to_string();
  if (auto xff = request["X-Forwarded-For"]; !xff.empty())
    request.set("X-Forwarded-For", std::string(xff) + ", " + client_ip);
  else
    request.set("X-Forwarded-For", client_ip);
  request.set("X-Forwarded-Proto", cfg.forwarded_proto);
  backend.expires_after(cfg.backend_response_timeout);
  auto [write_ec, _] = co_await http::async_write(backend, request, kUse);
  if (!write_ec && client_buffer.size() > 0) {
    ctx.metrics.userspace_bytes(metrics::Direction::client_to_backend, client_buffer.size());
    std::tie(write_ec, std::ignore) = co_await asio::async_write(backend, client_buffer.data(), kUse);
    client_buffer.consume(client_buffer.size());
  }
  // The client's queue can hold only bytes sent before the 101 now (rare): empty it here, so the
  // skb the request read stopped in cannot reach the verdict, while nothing the client sends
  // after the 101 is copied in userspace (see drain_queued).
  if (!write_ec && ctx.datapath) {
    write_ec = co_await drain_queued(client.socket(), backend.socket(), ctx.metrics,
                                     metrics::Direction::client_to_backend);
    if (write_ec == asio::error::eof) write_ec = {};  // the client left: its splice fails below
  }
  beast::flat_buffer backend_buffer;
  http::response_parser<http::string_body> response_parser;
  response_parser.header_limit(kBackendHeaderLimit);
  response_parser.body_limit(kBackendBodyLimit);
  std::size_t response_bytes = 0;
  boost::system::error_code response_ec = write_ec;
  if (!response_ec)
    std::tie(response_ec, response_bytes) = co_await http::async_read(backend, backend_buffer, response_parser, kUse);
  if (response_ec) {
    finish(ctx, spdlog::level::warn, Result::backend_error, "bad_response", client_name,
           "backend " + chosen->name + " broke the handshake: " + response_ec.message());
    co_await send_error(client, http::status::bad_gateway, "bad_response");
    co_return;
  }
  ctx.metrics.userspace_bytes(metrics::Direction::backend_to_client, response_bytes + backend_buffer.size());
  auto response = response_parser.release();

  if (response.result() != http::status::switching_protocols) {
    // Not an upgrade: relay the answer as it is and end both connections.
    finish(ctx, spdlog::level::info, Result::backend_rejected, std::to_string(response.result_int() / 100) + "xx",
           client_name, "backend " + chosen->name + " answered " + std::to_string(response.result_int()));
    response.keep_alive(false);
    co_await http::async_write(client, response, kUse);
    co_return;
  }
  if (auto cookie = ctx.steering.sticky_cookie(*chosen)) response.insert(http::field::set_cookie, *cookie);
  client.expires_never();
  backend.expires_never();
  tcp::socket client_sock = client.release_socket();
  tcp::socket backend_sock = backend.release_socket();

  // 5. The 101 and anything the backend sent right behind it go to the client from userspace.
  // With the splice datapath, both sockets become redirect targets first (SpliceHandoff); the
  // verdict runs on them only after those bytes are in the client's send queue.
  std::optional<SpliceHandoff> handoff;
  if (ctx.datapath) {
    auto begun = SpliceHandoff::begin(*ctx.datapath, client_sock, backend_sock,
                                      {chosen->id, mapped_v6(client_endpoint.address()), client_endpoint.port()});
    if (!begun && begun.error() == boost::system::errc::argument_list_too_long) {
      // wsteer_flows is full (a hash map answers E2BIG): the node is at capacity, not broken.
      // The client gets a 503 with Retry-After, as when every backend is full.
      finish(ctx, spdlog::level::warn, Result::unavailable, "flows_full", client_name,
             "wsteer_flows has no room for another flow");
      co_await send_error(client_sock, http::status::service_unavailable, "flows_full");
      co_return;
    }
    if (!begun) {
      finish(ctx, spdlog::level::warn, Result::backend_error, "splice_failed", client_name,
             "cannot make the sockets redirect targets: " + begun.error().message());
      co_await send_error(client_sock, http::status::bad_gateway, "splice_failed");
      co_return;
    }
    handoff.emplace(std::move(*begun));
  }
  auto [relay_ec, relayed] = co_await http::async_write(client_sock, response, kUse);
  if (!relay_ec && backend_buffer.size() > 0)
    std::tie(relay_ec, std::ignore) = co_await asio::async_write(client_sock, backend_buffer.data(), kUse);
  if (relay_ec) {
    finish(ctx, spdlog::level::info, Result::aborted, "client_closed", client_name,
           "relaying the 101: " + relay_ec.message());
    co_return;
  }
  ctx.metrics.handshake_seconds(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());

  if (!handoff) {
    finish(ctx, spdlog::level::debug, Result::proxied, "none", client_name, "backend " + chosen->name);
    co_await relay_userspace(client_sock, backend_sock, ctx.metrics);
    co_return;
  }

  // 6. Hand the flow to the kernel; from here on the flow owns the sockets and the counts.
  auto flow = co_await handoff->commit(client_sock, backend_sock, backend_buffer.data(), std::move(lease),
                                       std::move(active), ctx.metrics);
  if (!flow) {
    finish(ctx, spdlog::level::warn, Result::aborted, "splice_failed", client_name, flow.error().message());
    co_return;
  }
  source_slot.hand_off();
  finish(ctx, spdlog::level::debug, Result::spliced, "none", client_name, "backend " + chosen->name);
  ctx.spliced->adopt(std::move(*flow));
}

}  // namespace wsteer::proxy
