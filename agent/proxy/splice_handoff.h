// Handing one flow to the kernel, as a transaction (the order is docs/kernel-notes.md's, and why
// each step is there is said where it is done, in splice_handoff.cpp):
//   begin()   both sockets become redirect *targets*; no byte runs through the verdict yet;
//   (the session writes the 101, and whatever the backend sent behind it, to the client)
//   commit()  the backend's queue is drained to an skb boundary, the frame walker seeded, each
//             socket's byte base and flow control recorded, and the verdict switched on for the
//             backend, then the client: the result is a SplicedFlow owning both descriptors and
//             the connection's counts.
// Until commit() succeeds, destroying the hand-off takes the pair out of the maps again, whatever
// path the session leaves by.
#pragma once

#include "datapath/splice_datapath.h"
#include "metrics/agent_metrics.h"
#include "proxy/spliced_flows.h"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/result.hpp>

#include <cstdint>

namespace wsteer::proxy {

// Before a socket joins the verdict's map, read (and forward to `to`) everything it has queued,
// so that no skb is left partly read (see splice_handoff.cpp). `frames`, when given, follows the
// forwarded bytes' WebSocket frames (rebalance).
boost::asio::awaitable<boost::system::error_code> drain_queued(boost::asio::ip::tcp::socket& from,
                                                               boost::asio::ip::tcp::socket& to,
                                                               metrics::AgentMetrics& metrics,
                                                               metrics::Direction direction,
                                                               wsteer_frame_state* frames = nullptr);

class SpliceHandoff {
 public:
  // Step 1: records the pair in the flow map and makes both sockets redirect targets.
  static boost::system::result<SpliceHandoff> begin(datapath::SpliceDatapath& datapath,
                                                    boost::asio::ip::tcp::socket& client,
                                                    boost::asio::ip::tcp::socket& backend,
                                                    const datapath::FlowMeta& meta);
  SpliceHandoff(SpliceHandoff&& other) noexcept;
  SpliceHandoff& operator=(SpliceHandoff&&) = delete;
  ~SpliceHandoff();  // not committed: the pair leaves the maps

  // The last steps, once the 101 and `backend_tail` (the backend's bytes behind it) are in the
  // client's send queue. On success the flow owns the sockets, `lease` and `active`.
  boost::asio::awaitable<boost::system::result<SplicedFlow>> commit(boost::asio::ip::tcp::socket& client,
                                                                    boost::asio::ip::tcp::socket& backend,
                                                                    boost::asio::const_buffer backend_tail,
                                                                    BackendLease lease, ActiveConnection active,
                                                                    metrics::AgentMetrics& metrics);

 private:
  SpliceHandoff(datapath::SpliceDatapath& datapath, const datapath::FlowSockets& sockets)
      : datapath_(&datapath), sockets_(sockets) {}

  datapath::SpliceDatapath* datapath_;  // null once committed or moved from
  datapath::FlowSockets sockets_;
};

}  // namespace wsteer::proxy
