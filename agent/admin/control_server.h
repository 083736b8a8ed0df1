// The agent's local control socket for wsteerctl (drain, undrain, lookup, live status and
// counters). A Unix stream socket only root can open: folder 0700, socket 0600, and the peer's
// credentials are checked on every connection. Runs on the agent's control io_context.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/json/object.hpp>

#include <filesystem>
#include <functional>
#include <string>

namespace wsteer::admin {

// Answers one request; what it returns is sent back (it should carry "ok").
using ControlHandler = std::function<boost::json::object(const boost::json::object& request)>;
// A request that takes over the connection (hand-off): gets the connected socket's descriptor
// and the request; answers on the socket itself, on its own thread.
using ControlStreamHandler = std::function<void(int socket, const boost::json::object& request)>;

class ControlServer {
 public:
  // Creates the folder (0700) if missing, replaces a stale socket left by a dead agent, binds and
  // listens. Throws std::runtime_error with the path when another agent answers on it or the
  // bind fails.
  ControlServer(boost::asio::io_context& io, std::filesystem::path path, ControlHandler handler);
  ~ControlServer();  // removes the socket file
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  void start();
  void stop();  // closes the acceptor (posted to the io_context) and removes the socket file
  const std::filesystem::path& path() const { return path_; }

  // Hand-off. Requests whose "command" is `command` go to `handler` with the socket.
  void set_stream_handler(std::string command, ControlStreamHandler handler);
  // A duplicate of the listening socket, for the successor (who then takes it over with the path).
  int dup_listener();
  // The successor answers on the socket now: stop accepting, and leave the file (it is the
  // successor's). Waits until done.
  void hand_over();

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::local::stream_protocol::socket socket);
  void remove_socket_file();

  boost::asio::io_context& io_;
  std::filesystem::path path_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  ControlHandler handler_;
  std::string stream_command_;
  ControlStreamHandler stream_handler_;
  bool removed_ = false;
};

}  // namespace wsteer::admin
