#include "proxy/session.h"

#include "datapath/socket_info.h"
#include "proxy/backend_lease.h"
#include "proxy/handshake_check.h"
#include "proxy/http_headers.h"
#include "proxy/http_proxy.h"
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

// Before a socket joins the verdict's map, read (and forward to `to`) everything it has queued.
// The verdict gets whole skbs (tcp_read_skb), including bytes userspace already read from them:
// Beast's reads of the handshake can stop inside an skb, and the verdict would then send that
// skb's first part a second time. One recv() into a buffer larger than the receive buffer can
// hold ends only when the queue is empty (tcp_recvmsg keeps copying, under the socket lock, while
// data keeps arriving and room remains), so no skb is left partly read; looping until EAGAIN
// instead never ends against a backend that streams right after its 101.
asio::awaitable<boost::system::error_code> drain_queued(tcp::socket& from, tcp::socket& to, metrics::AgentMetrics& m,
                                                        metrics::Direction direction) {
  boost::system::error_code ec;
  asio::socket_base::receive_buffer_size rcvbuf;
  from.get_option(rcvbuf, ec);
  std::vector<char> chunk(2 * static_cast<std::size_t>(std::max(rcvbuf.value(), 64 * 1024)) + 64 * 1024);
  from.non_blocking(true, ec);
  for (;;) {
    const std::size_t n = from.read_some(asio::buffer(chunk), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) co_return boost::system::error_code{};
    if (ec) co_return ec;  // including EOF: the flow cannot be spliced
    m.userspace_bytes(direction, n);
    auto [wec, wn] = co_await asio::async_write(to, asio::buffer(chunk.data(), n), kUse);
    if (wec) co_return wec;
    if (n < chunk.size()) co_return boost::system::error_code{};  // the queue was emptied
  }
}

// Counts the session in wsteer_connections_active and ProxyContext::sessions while it lives.
class SessionGuard {
 public:
  explicit SessionGuard(ProxyContext& ctx) : ctx_(ctx) {
    ctx_.sessions++;
    ctx_.metrics.active_connections().Increment();
  }
  ~SessionGuard() {
    ctx_.sessions--;
    if (!handed_off_) ctx_.metrics.active_connections().Decrement();
  }
  // The spliced-flow table now accounts for the connection (it decrements when the flow ends).
  void hand_off() { handed_off_ = true; }

 private:
  ProxyContext& ctx_;
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
  SessionGuard guard(ctx);
  const auto& cfg = ctx.config;

  boost::system::error_code ec;
  const auto client_endpoint = client_socket.remote_endpoint(ec);
  if (ec) {
    finish(ctx, spdlog::level::info, Result::aborted, "client_closed", "unknown", "gone before accept completed");
    co_return;
  }
  const auto client_name = describe(client_endpoint);
  set_nodelay(client_socket);
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
  // With the splice datapath, both sockets become redirect targets first; the verdict runs on
  // them only after those bytes are in the client's send queue, so nothing can overtake the 101.
  datapath::FlowSockets sockets{client_sock.native_handle(), backend_sock.native_handle()};
  if (ctx.datapath) {
    datapath::FlowMeta meta{chosen->id, mapped_v6(client_endpoint.address()), client_endpoint.port()};
    if (auto insert_ec = ctx.datapath->add_targets(sockets, meta)) {
      finish(ctx, spdlog::level::warn, Result::backend_error, "splice_failed", client_name,
             "cannot make the sockets redirect targets: " + insert_ec.message());
      co_await send_error(client_sock, http::status::bad_gateway, "splice_failed");
      co_return;
    }
  }
  auto [relay_ec, relayed] = co_await http::async_write(client_sock, response, kUse);
  if (!relay_ec && backend_buffer.size() > 0)
    std::tie(relay_ec, std::ignore) = co_await asio::async_write(client_sock, backend_buffer.data(), kUse);
  if (relay_ec) {
    if (ctx.datapath) ctx.datapath->remove(sockets);
    finish(ctx, spdlog::level::info, Result::aborted, "client_closed", client_name,
           "relaying the 101: " + relay_ec.message());
    co_return;
  }
  ctx.metrics.handshake_seconds(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());

  if (!ctx.datapath) {
    finish(ctx, spdlog::level::debug, Result::proxied, "none", client_name, "backend " + chosen->name);
    co_await relay_userspace(client_sock, backend_sock, ctx.metrics);
    co_return;
  }

  // 6. Hand the flow to the kernel: backend first (its frames queue behind the 101), then the
  // client (it speaks only after the 101), each kicked so bytes already queued go through.
  // First, bring the backend's receive queue to an skb boundary (see drain_queued; the client's
  // was emptied before its request went out).
  if (auto drain_ec =
          co_await drain_queued(backend_sock, client_sock, ctx.metrics, metrics::Direction::backend_to_client)) {
    ctx.datapath->remove(sockets);
    finish(ctx, spdlog::level::info, Result::aborted, "client_closed", client_name,
           "before splicing: " + drain_ec.message());
    co_return;
  }
  SplicedFlow flow;
  flow.sockets = sockets;
  flow.backend_id = chosen->id;
  flow.steering = &ctx.steering;
  flow.client_written_base = datapath::tcp_bytes_written(sockets.client_fd).value_or(0);
  flow.backend_written_base = datapath::tcp_bytes_written(sockets.backend_fd).value_or(0);
  // Backpressure needs each socket's peer base before the verdict sees its first byte.
  if (auto ec = ctx.datapath->set_flow_control(sockets.client_cookie, flow.backend_written_base);
      ec || (ec = ctx.datapath->set_flow_control(sockets.backend_cookie, flow.client_written_base))) {
    spdlog::warn("client {}: cannot splice: {}", client_ip, ec.message());
    ctx.datapath->remove(sockets);
    ctx.metrics.connection(Result::aborted, "splice_failed");
    co_return;
  }
  for (auto [fd, cookie] : {std::pair{sockets.backend_fd, sockets.backend_cookie},
                            std::pair{sockets.client_fd, sockets.client_cookie}}) {
    if (auto splice_ec = ctx.datapath->splice(fd, cookie)) {
      ctx.datapath->remove(sockets);
      finish(ctx, spdlog::level::warn, Result::aborted, "splice_failed", client_name, splice_ec.message());
      co_return;
    }
  }
  flow.client.reset(client_sock.release());
  flow.backend.reset(backend_sock.release());
  lease.release();
  guard.hand_off();
  finish(ctx, spdlog::level::debug, Result::spliced, "none", client_name, "backend " + chosen->name);
  ctx.spliced->adopt(std::move(flow));
}

}  // namespace wsteer::proxy
