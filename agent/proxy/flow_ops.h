// Everything the spliced-flow logic (FlowTable) asks of the kernel, behind one interface: the agent
// runs it on real sockets, epoll and the BPF maps (KernelFlowOps); the unit tests run the same
// logic on a scripted fake (tests/unit/flow_table_test.cpp), the way a control plane is tested
// without a dataplane.
#pragma once

#include "datapath/splice_datapath.h"
#include "wsteer_abi.h"

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <sys/types.h>

namespace wsteer::proxy {

// Which of a socket's events wake the flow loop. A hang-up (RDHUP) always does, once.
struct Interest {
  bool readable = false;  // held bytes to read (backpressure relay, rebalance close)
  bool writable = false;  // the send buffer took relayed bytes only partly
};

// What one wait reported for one socket.
struct SocketEvents {
  bool error = false;
  bool hangup = false;  // the peer sent its FIN (or the connection is gone)
  bool readable = false;
  bool writable = false;
};

class FlowOps {
 public:
  virtual ~FlowOps() = default;

  // Sockets (non-blocking; never SIGPIPE). recv/send return the byte count, 0 at EOF (recv), or
  // -errno.
  virtual ssize_t recv(int fd, char* data, std::size_t size) = 0;
  // recv() with MSG_PEEK: copies without taking the bytes off the socket (nor opening its window).
  virtual ssize_t peek(int fd, char* data, std::size_t size) = 0;
  virtual ssize_t send(int fd, const char* data, std::size_t size) = 0;
  virtual void shutdown_write(int fd) = 0;
  // SO_RCVLOWAT: TCP calls the verdict only once this many bytes wait.
  virtual bool set_rcvlowat(int fd, std::uint64_t bytes) = 0;
  // SO_RCVBUF at most `bytes` (its window with it); returns the receive buffer now in effect, 0 if unknown.
  virtual std::size_t cap_receive_buffer(int fd, std::uint64_t bytes) = 0;
  // SO_RCVLOWAT back to 1, which runs the verdict over what waits in the receive queue.
  virtual void kick(int fd) = 0;
  virtual std::uint64_t bytes_written(int fd) = 0;  // datapath::tcp_bytes_written, 0 when unknown
  virtual std::uint64_t bytes_acked(int fd) = 0;    // datapath::tcp_bytes_acked, 0 when unknown
  virtual int socket_error(int fd) = 0;             // SO_ERROR

  // The flow loop's wait set. `token` comes back with the socket's events.
  virtual bool watch(int fd, std::uint64_t token, Interest interest) = 0;
  virtual bool rewatch(int fd, std::uint64_t token, Interest interest) = 0;
  virtual void unwatch(int fd) = 0;

  // The BPF maps (datapath::SpliceDatapath).
  virtual std::optional<wsteer_flow_side> flow_side(std::uint64_t cookie) = 0;
  virtual std::uint64_t redirected_bytes(std::uint64_t cookie) = 0;
  virtual boost::system::error_code set_flow_control(std::uint64_t cookie, std::uint64_t peer_written_base,
                                                     std::uint64_t relayed, bool close) = 0;
  virtual void remove(const datapath::FlowSockets& flow) = 0;
  virtual std::uint64_t flow_limit() const = 0;

  virtual std::chrono::steady_clock::time_point now() = 0;
};

}  // namespace wsteer::proxy
