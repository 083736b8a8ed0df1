// FlowOps on the real kernel: the sockets' syscalls, one epoll set, and the splice datapath's maps.
#pragma once

#include "core/unique_fd.h"
#include "proxy/flow_ops.h"

namespace wsteer::proxy {

class KernelFlowOps final : public FlowOps {
 public:
  // `epoll`: the flow loop's wait set (owned by SplicedFlows).
  KernelFlowOps(datapath::SpliceDatapath& datapath, int epoll) : datapath_(datapath), epoll_(epoll) {}

  ssize_t recv(int fd, char* data, std::size_t size) override;
  ssize_t peek(int fd, char* data, std::size_t size) override;
  ssize_t send(int fd, const char* data, std::size_t size) override;
  void shutdown_write(int fd) override;
  bool set_rcvlowat(int fd, std::uint64_t bytes) override;
  std::size_t cap_receive_buffer(int fd, std::uint64_t bytes) override;
  void kick(int fd) override;
  std::uint64_t bytes_written(int fd) override;
  std::uint64_t bytes_acked(int fd) override;
  int socket_error(int fd) override;

  bool watch(int fd, std::uint64_t token, Interest interest) override;
  bool rewatch(int fd, std::uint64_t token, Interest interest) override;
  void unwatch(int fd) override;

  std::optional<wsteer_flow_side> flow_side(std::uint64_t cookie) override { return datapath_.flow_side(cookie); }
  std::uint64_t redirected_bytes(std::uint64_t cookie) override { return datapath_.redirected_bytes(cookie); }
  boost::system::error_code set_flow_control(std::uint64_t cookie, std::uint64_t peer_written_base,
                                             std::uint64_t relayed, bool close) override {
    return datapath_.set_flow_control(cookie, peer_written_base, relayed, close);
  }
  void remove(const datapath::FlowSockets& flow) override { datapath_.remove(flow); }
  std::uint64_t flow_limit() const override { return datapath_.flow_limit(); }

  std::chrono::steady_clock::time_point now() override { return std::chrono::steady_clock::now(); }

  // What epoll reported, in FlowOps' words.
  static SocketEvents events_of(std::uint32_t epoll_events);

 private:
  bool control(int op, int fd, std::uint64_t token, Interest interest);

  datapath::SpliceDatapath& datapath_;
  int epoll_;
};

}  // namespace wsteer::proxy
