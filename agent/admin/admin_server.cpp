#include "admin/admin_server.h"

#include "core/inherited_sockets.h"

#include <boost/url/parse.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

namespace wsteer::admin {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
}

AdminServer::AdminServer(const tcp::endpoint& endpoint, AdminHandlers handlers)
    : acceptor_(io_), handlers_(std::move(handlers)) {
  if (auto inherited = core::take_inherited_socket(core::tcp_socket_key(endpoint.address().to_string(), endpoint.port()))) {
    acceptor_.assign(endpoint.protocol(), inherited.release());
    return;
  }
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen();
}

AdminServer::~AdminServer() { stop(); }

void AdminServer::start() {
  asio::co_spawn(io_, accept_loop(), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

void AdminServer::stop() {
  // Stopping the io_context abandons the coroutines of open keep-alive connections; their
  // sockets close when the io_context is destroyed with this object.
  io_.stop();
  if (thread_.joinable()) thread_.join();
  boost::system::error_code ignored;
  acceptor_.close(ignored);  // no thread runs io_ now: safe to touch from here
}

asio::awaitable<void> AdminServer::accept_loop() {
  while (acceptor_.is_open()) {
    auto [ec, socket] = co_await acceptor_.async_accept(kUse);
    if (ec == asio::error::operation_aborted) break;
    if (!ec) asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
  }
}

std::optional<AdminAnswer> AdminServer::more(std::string_view target) const {
  if (!handlers_.more) return std::nullopt;
  const auto url = boost::urls::parse_origin_form(target);
  if (!url) return std::nullopt;
  return handlers_.more(*url);
}

asio::awaitable<void> AdminServer::serve(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {  // keep-alive, as Prometheus scrapers expect
    http::request<http::empty_body> req;
    stream.expires_after(std::chrono::seconds(30));
    auto [ec, n] = co_await http::async_read(stream, buffer, req, kUse);
    if (ec) co_return;

    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    std::string why;
    const auto target = req.target();
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      res.result(http::status::method_not_allowed);
      res.body() = "GET only\n";
    } else if (target == "/metrics") {
      res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      res.body() = handlers_.metrics();
    } else if (target == "/healthz") {
      const bool ok = handlers_.healthy(why);
      res.result(ok ? http::status::ok : http::status::service_unavailable);
      res.body() = ok ? "ok\n" : why + "\n";
    } else if (target == "/readyz") {
      const bool ok = handlers_.ready(why);
      res.result(ok ? http::status::ok : http::status::service_unavailable);
      res.body() = ok ? "ready\n" : why + "\n";
    } else if (auto answer = more(target)) {
      res.result(answer->status);
      res.set(http::field::content_type, answer->content_type);
      res.body() = std::move(answer->body);
    } else {
      res.result(http::status::not_found);
      res.body() = "not found: try /metrics, /healthz, /readyz, /v1/connections\n";
    }
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    auto [wec, wn] = co_await http::async_write(stream, res, kUse);
    if (wec || !res.keep_alive()) co_return;
  }
}

}  // namespace wsteer::admin
