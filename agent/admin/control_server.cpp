#include "admin/control_server.h"

#include "admin/control_protocol.h"
#include "core/inherited_sockets.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fcntl.h>
#include <future>
#include <stdexcept>

namespace wsteer::admin {
namespace asio = boost::asio;
namespace json = boost::json;
using local = asio::local::stream_protocol;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
constexpr auto kRequestDeadline = std::chrono::seconds(5);

// A socket file nobody answers on was left by an agent that died (kill -9): replace it. One that
// answers belongs to a live agent: refuse rather than steal its path.
void clear_stale_socket(asio::io_context& io, const std::filesystem::path& path) {
  std::error_code fs_ec;
  const auto status = std::filesystem::symlink_status(path, fs_ec);
  if (fs_ec || !std::filesystem::exists(status)) return;
  if (!std::filesystem::is_socket(status))
    throw std::runtime_error("control socket " + path.string() + " exists and is not a socket");
  local::socket probe(io);
  boost::system::error_code ec;
  probe.connect(local::endpoint(path.string()), ec);
  if (!ec) throw std::runtime_error("another wsteer-agent answers on " + path.string() + " (pick another --control-socket)");
  spdlog::warn("removing stale control socket {}", path.string());
  std::filesystem::remove(path);
}

// Defence in depth behind the file modes: only root or the agent's own user may steer it.
bool peer_allowed(int fd) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return false;
  return cred.uid == 0 || cred.uid == ::geteuid();
}

json::object error_reply(const std::string& message) { return {{"ok", false}, {"error", message}}; }

}  // namespace

ControlServer::ControlServer(asio::io_context& io, std::filesystem::path path, ControlHandler handler)
    : io_(io), path_(std::move(path)), acceptor_(io), handler_(std::move(handler)) {
  const auto dir = path_.parent_path();
  if (!dir.empty() && !std::filesystem::exists(dir)) {
    std::filesystem::create_directories(dir);
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all);
  }
  if (auto inherited = core::take_inherited_socket(core::unix_socket_key(path_.string()))) {
    acceptor_.assign(local(), inherited.release());  // the predecessor's socket, file and all
    return;
  }
  clear_stale_socket(io, path_);
  boost::system::error_code ec;
  acceptor_.open(local(), ec);
  if (!ec) acceptor_.bind(local::endpoint(path_.string()), ec);
  if (ec) throw std::runtime_error("control socket " + path_.string() + ": " + ec.message());
  ::chmod(path_.c_str(), S_IRUSR | S_IWUSR);
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    remove_socket_file();
    throw std::runtime_error("control socket " + path_.string() + ": listen: " + ec.message());
  }
}

ControlServer::~ControlServer() { remove_socket_file(); }

void ControlServer::remove_socket_file() {
  if (removed_) return;
  removed_ = true;
  std::error_code ec;
  std::filesystem::remove(path_, ec);
}

void ControlServer::start() { asio::co_spawn(io_, accept_loop(), asio::detached); }

void ControlServer::stop() {
  asio::post(io_, [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    remove_socket_file();
  });
}

void ControlServer::set_stream_handler(std::string command, ControlStreamHandler handler) {
  stream_command_ = std::move(command);
  stream_handler_ = std::move(handler);
}

int ControlServer::dup_listener() { return ::fcntl(acceptor_.native_handle(), F_DUPFD_CLOEXEC, 0); }

void ControlServer::hand_over() {
  std::promise<void> done;
  asio::post(io_, [&] {
    removed_ = true;  // the file now names the successor's socket
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    done.set_value();
  });
  done.get_future().wait();
}

asio::awaitable<void> ControlServer::accept_loop() {
  while (acceptor_.is_open()) {
    auto [ec, socket] = co_await acceptor_.async_accept(kUse);
    if (ec == asio::error::operation_aborted) break;
    if (!ec) asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> ControlServer::serve(local::socket socket) {
  json::object reply;
  asio::streambuf buffer(kMaxControlMessage);
  if (!peer_allowed(socket.native_handle())) {
    reply = error_reply("permission denied: the control socket is for root");
  } else {
    asio::steady_timer deadline(io_, kRequestDeadline);
    auto result = co_await (asio::async_read_until(socket, buffer, '\n', kUse) || deadline.async_wait(kUse));
    if (result.index() == 1) co_return;  // a client that never finished its line
    auto [ec, n] = std::get<0>(result);
    if (ec) {
      reply = error_reply(ec == asio::error::not_found ? "request too large" : "bad request: " + ec.message());
    } else {
      std::string line(asio::buffers_begin(buffer.data()), asio::buffers_begin(buffer.data()) + static_cast<std::ptrdiff_t>(n));
      boost::system::error_code jec;
      auto request = json::parse(line, jec);
      if (jec || !request.is_object()) {
        reply = error_reply("bad request: expected one JSON object on one line");
      } else {
        const auto* command = request.as_object().if_contains("command");
        if (stream_handler_ && command && command->is_string() && command->as_string() == stream_command_) {
          // The handler owns the connection from here (a bounded exchange of its own).
          const int fd = socket.release();
          stream_handler_(fd, request.as_object());
          co_return;
        }
        try {
          reply = handler_(request.as_object());
        } catch (const std::exception& e) {
          reply = error_reply(e.what());
        }
      }
    }
  }
  auto text = json::serialize(reply) + "\n";
  co_await asio::async_write(socket, asio::buffer(text), kUse);
  boost::system::error_code ignored;
  socket.shutdown(local::socket::shutdown_both, ignored);
}

}  // namespace wsteer::admin
