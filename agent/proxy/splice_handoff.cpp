#include "proxy/splice_handoff.h"

#include "datapath/socket_info.h"
#include "proxy/frame_tracker.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

namespace wsteer::proxy {
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
}  // namespace

// The verdict gets whole skbs (tcp_read_skb), including bytes userspace already read from them:
// Beast's reads of the handshake can stop inside an skb, and the verdict would then send that
// skb's first part a second time. One recv() into a buffer larger than the receive buffer can
// hold ends only when the queue is empty (tcp_recvmsg keeps copying, under the socket lock, while
// data keeps arriving and room remains), so no skb is left partly read; looping until EAGAIN
// instead never ends against a backend that streams right after its 101.
asio::awaitable<boost::system::error_code> drain_queued(tcp::socket& from, tcp::socket& to, metrics::AgentMetrics& m,
                                                        metrics::Direction direction, wsteer_frame_state* frames) {
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
    if (frames) advance_frames(*frames, chunk.data(), n, false);
    auto [wec, wn] = co_await asio::async_write(to, asio::buffer(chunk.data(), n), kUse);
    if (wec) co_return wec;
    if (n < chunk.size()) co_return boost::system::error_code{};  // the queue was emptied
  }
}

boost::system::result<SpliceHandoff> SpliceHandoff::begin(datapath::SpliceDatapath& datapath, tcp::socket& client,
                                                          tcp::socket& backend, const datapath::FlowMeta& meta) {
  datapath::FlowSockets sockets{client.native_handle(), backend.native_handle()};
  // Targets first, spliced later: the 101 must be in the client's queue before any frame of the
  // backend's can be redirected behind it (a socket that already hung up is refused here).
  if (auto ec = datapath.add_targets(sockets, meta)) return ec;
  return SpliceHandoff(datapath, sockets);
}

SpliceHandoff::SpliceHandoff(SpliceHandoff&& other) noexcept
    : datapath_(std::exchange(other.datapath_, nullptr)), sockets_(other.sockets_) {}

SpliceHandoff::~SpliceHandoff() {
  if (datapath_) datapath_->remove(sockets_);
}

asio::awaitable<boost::system::result<SplicedFlow>> SpliceHandoff::commit(tcp::socket& client, tcp::socket& backend,
                                                                          asio::const_buffer backend_tail,
                                                                          BackendLease lease, ActiveConnection active,
                                                                          metrics::AgentMetrics& metrics) {
  auto& dp = *datapath_;
  // Rebalance: the verdict follows the backend's frames from the splice on, starting from where
  // the bytes relayed by the agent (the 101's tail and the drain below) left them.
  const bool track_frames = dp.rebalance();
  wsteer_frame_state frames{};
  if (track_frames) advance_frames(frames, static_cast<const char*>(backend_tail.data()), backend_tail.size(), false);

  // Bring the backend's receive queue to an skb boundary (the client's was emptied before its
  // request went out, and it speaks only after the 101).
  if (auto ec = co_await drain_queued(backend, client, metrics, metrics::Direction::backend_to_client,
                                      track_frames ? &frames : nullptr))
    co_return ec;

  SplicedFlow flow;
  // What each socket's send path holds beyond these came from the verdict (half-close, backpressure).
  flow.client_written_base = datapath::tcp_bytes_written(sockets_.client_fd).value_or(0);
  flow.backend_written_base = datapath::tcp_bytes_written(sockets_.backend_fd).value_or(0);
  if (track_frames) {
    spdlog::debug("flow {}: frames seeded: {} bytes left in the frame, {} header bytes", sockets_.backend_cookie,
                  frames.frame_left, frames.hdr_len);
    if (auto ec = dp.seed_frames(sockets_.backend_cookie, frames)) co_return ec;
  }
  // Backpressure needs each socket's peer base before the verdict sees its first byte.
  if (auto ec = dp.set_flow_control(sockets_.client_cookie, flow.backend_written_base)) co_return ec;
  if (auto ec = dp.set_flow_control(sockets_.backend_cookie, flow.client_written_base)) co_return ec;
  // The backend first (its frames now queue behind the 101), then the client (it speaks only
  // after the 101); each is kicked so bytes already queued go through the verdict.
  if (auto ec = dp.splice(sockets_.backend_fd, sockets_.backend_cookie)) co_return ec;
  if (auto ec = dp.splice(sockets_.client_fd, sockets_.client_cookie)) co_return ec;

  datapath_ = nullptr;  // committed: the flow's owner removes it from the maps when it ends
  flow.sockets = sockets_;
  flow.client.reset(client.release());
  flow.backend.reset(backend.release());
  flow.lease = std::move(lease);
  flow.active = std::move(active);
  co_return flow;
}

}  // namespace wsteer::proxy
