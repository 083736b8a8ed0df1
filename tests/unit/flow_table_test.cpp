// The spliced-flow logic without a kernel: FlowTable over a scripted FlowOps. Each test plays what
// the kernel would report (bytes redirected, written, acknowledged, held; hang-ups, errors) and
// checks what the table does to the sockets and the maps. The same logic on the real kernel is
// covered by the privileged splice, backpressure and rebalance tests.
#include "proxy/flow_table.h"

#include <gtest/gtest.h>
#include <prometheus/gauge.h>
#include <sys/eventfd.h>
#include <fcntl.h>

#include <cerrno>
#include <deque>
#include <map>
#include <string>

namespace wsteer::proxy {
namespace {

using namespace std::chrono_literals;

struct FakeSocket {
  std::deque<char> readable;     // what recv() returns
  std::string sent;              // what send() took
  std::size_t send_room = ~std::size_t{0};
  int send_error = 0;            // send() fails with it when set
  std::uint64_t written = 0;     // tcp_bytes_written
  std::uint64_t acked = 0;       // tcp_bytes_acked
  bool write_shut = false;
  std::uint64_t rcvlowat = 1;
  int kicks = 0;
  bool watched = false;
  Interest interest;
  int error = 0;
};

class FakeOps final : public FlowOps {
 public:
  std::map<int, FakeSocket> sockets;
  std::map<std::uint64_t, wsteer_flow_side> sides;  // wsteer_flows by cookie
  std::map<std::uint64_t, wsteer_flow_ctl> ctl;     // wsteer_flow_ctl by cookie
  std::vector<datapath::FlowSockets> removed;
  std::uint64_t limit = 1 << 20;
  bool refuse_watch = false;
  std::chrono::steady_clock::time_point clock{std::chrono::seconds(1000)};

  ssize_t recv(int fd, char* data, std::size_t size) override {
    auto& s = sockets.at(fd);
    if (s.readable.empty()) return -EAGAIN;
    const std::size_t n = std::min(size, s.readable.size());
    std::copy_n(s.readable.begin(), n, data);
    s.readable.erase(s.readable.begin(), s.readable.begin() + static_cast<std::ptrdiff_t>(n));
    return static_cast<ssize_t>(n);
  }
  ssize_t peek(int fd, char* data, std::size_t size) override {
    auto& s = sockets.at(fd);
    if (s.readable.empty()) return -EAGAIN;
    const std::size_t n = std::min(size, s.readable.size());
    std::copy_n(s.readable.begin(), n, data);
    return static_cast<ssize_t>(n);
  }
  ssize_t send(int fd, const char* data, std::size_t size) override {
    auto& s = sockets.at(fd);
    if (s.send_error) return -s.send_error;
    const std::size_t n = std::min(size, s.send_room);
    if (n == 0) return -EAGAIN;
    s.sent.append(data, n);
    s.written += n;
    if (s.send_room != ~std::size_t{0}) s.send_room -= n;
    return static_cast<ssize_t>(n);
  }
  void shutdown_write(int fd) override { sockets.at(fd).write_shut = true; }
  bool set_rcvlowat(int fd, std::uint64_t bytes) override { return (sockets.at(fd).rcvlowat = bytes), true; }
  std::size_t cap_receive_buffer(int, std::uint64_t bytes) override { return static_cast<std::size_t>(bytes); }
  void kick(int fd) override {
    sockets.at(fd).rcvlowat = 1;
    ++sockets.at(fd).kicks;
  }
  std::uint64_t bytes_written(int fd) override { return sockets.at(fd).written; }
  std::uint64_t bytes_acked(int fd) override { return sockets.at(fd).acked; }
  int socket_error(int fd) override { return sockets.at(fd).error; }
  bool watch(int fd, std::uint64_t, Interest interest) override {
    if (refuse_watch) return false;
    auto& s = sockets.at(fd);
    s.watched = true;
    s.interest = interest;
    return true;
  }
  bool rewatch(int fd, std::uint64_t, Interest interest) override {
    sockets.at(fd).interest = interest;
    return true;
  }
  void unwatch(int fd) override { sockets.at(fd).watched = false; }
  std::optional<wsteer_flow_side> flow_side(std::uint64_t cookie) override {
    auto it = sides.find(cookie);
    return it == sides.end() ? std::nullopt : std::optional(it->second);
  }
  std::uint64_t redirected_bytes(std::uint64_t cookie) override { return sides.count(cookie) ? sides[cookie].bytes : 0; }
  boost::system::error_code set_flow_control(std::uint64_t cookie, std::uint64_t base, std::uint64_t relayed,
                                             bool close) override {
    ctl[cookie] = wsteer_flow_ctl{base, relayed, static_cast<std::uint8_t>(close), {}};
    return {};
  }
  void remove(const datapath::FlowSockets& flow) override {
    removed.push_back(flow);
    sides.erase(flow.client_cookie);
    sides.erase(flow.backend_cookie);
  }
  std::uint64_t flow_limit() const override { return limit; }
  std::chrono::steady_clock::time_point now() override { return clock; }
};

constexpr std::uint64_t kClientCookie = 101;
constexpr std::uint64_t kBackendCookie = 202;
constexpr std::uint64_t kBase = 500;  // bytes each socket had written before the splice (the handshake)

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

class FlowTableTest : public ::testing::Test {
 protected:
  // A flow as the splice hand-off leaves it: both sockets in the maps, nothing moved yet.
  std::uint64_t adopt(const wsteer_flow_side& client_state = {}) {
    SplicedFlow flow;
    flow.active = ActiveConnection(active_);
    flow.client = UniqueFd(::eventfd(0, EFD_CLOEXEC));
    flow.backend = UniqueFd(::eventfd(0, EFD_CLOEXEC));
    client_fd_ = flow.client.get();
    backend_fd_ = flow.backend.get();
    flow.sockets = {client_fd_, backend_fd_, kClientCookie, kBackendCookie};
    flow.client_written_base = kBase;
    flow.backend_written_base = kBase;
    for (int fd : {client_fd_, backend_fd_}) ops_.sockets[fd].written = ops_.sockets[fd].acked = kBase;
    ops_.sides[kClientCookie] = client_state;
    ops_.sides[kBackendCookie] = wsteer_flow_side{};
    return id_ = table_.adopt(std::move(flow));
  }
  std::uint64_t client_token() const { return FlowTable::token(id_, 0); }
  std::uint64_t backend_token() const { return FlowTable::token(id_, 1); }
  FakeSocket& client() { return ops_.sockets.at(client_fd_); }
  FakeSocket& backend() { return ops_.sockets.at(backend_fd_); }
  // The verdict redirected `n` more bytes from the client socket into the backend's send path.
  void client_redirects(std::uint64_t n, bool written = true) {
    ops_.sides[kClientCookie].bytes += n;
    if (written) backend().written += n;
  }
  void hangup(std::uint64_t token) { table_.on_socket(token, SocketEvents{false, true, false, false}); }
  void hold(std::uint64_t cookie) { table_.on_datapath_event(wsteer_event{cookie, WSTEER_EVENT_HOLD, 0}); }

  prometheus::Gauge active_;
  FakeOps ops_;
  FlowTable table_{ops_, 10s};
  std::uint64_t id_ = 0;
  int client_fd_ = -1;
  int backend_fd_ = -1;
};

TEST_F(FlowTableTest, AFinIsPropagatedOnlyOnceEveryRedirectedByteIsInThePeersSendPath) {
  adopt();
  client_redirects(1000, false);
  backend().written += 400;  // the psock backlog still holds 600
  hangup(client_token());
  table_.tick();
  table_.tick();
  EXPECT_FALSE(backend().write_shut) << "shut with 600 redirected bytes not yet written: the backlog would fail them";
  backend().written += 600;
  table_.tick();  // written == redirected, but is the counter settled? it was 1000 on the last look too
  EXPECT_TRUE(backend().write_shut);
  EXPECT_FALSE(client().write_shut) << "only the direction that ended is shut";
  EXPECT_EQ(table_.size(), 1u) << "a half-closed flow lives on: the backend may still send";
  EXPECT_FALSE(table_.busy()) << "nothing left to wait for until the backend hangs up";
}

TEST_F(FlowTableTest, AFinWaitsWhileTheVerdictIsStillRedirecting) {
  adopt();
  client_redirects(100);
  hangup(client_token());
  table_.tick();  // first look: 100 redirected, all written, but not yet seen twice
  EXPECT_FALSE(backend().write_shut);
  client_redirects(50);  // the verdict ran again (the bytes ahead of the FIN)
  table_.tick();
  EXPECT_FALSE(backend().write_shut) << "the counter moved since the last look";
  table_.tick();
  EXPECT_TRUE(backend().write_shut);
}

TEST_F(FlowTableTest, BothSidesFinishedEndsTheFlowAndEverythingItHeld) {
  adopt();
  EXPECT_EQ(active_.Value(), 1);
  hangup(client_token());
  table_.tick();
  table_.tick();
  hangup(backend_token());
  table_.tick();
  table_.tick();
  EXPECT_TRUE(client().write_shut);
  EXPECT_EQ(table_.size(), 0u);
  ASSERT_EQ(ops_.removed.size(), 1u);
  EXPECT_EQ(ops_.removed[0].client_cookie, kClientCookie);
  EXPECT_FALSE(client().watched);
  EXPECT_FALSE(backend().watched);
  EXPECT_FALSE(is_open(client_fd_));
  EXPECT_FALSE(is_open(backend_fd_));
  EXPECT_EQ(active_.Value(), 0) << "wsteer_connections_active still counts the flow";
  EXPECT_FALSE(table_.busy());
}

TEST_F(FlowTableTest, AFlowTheVerdictHeldBeforeItWasAdoptedIsRelayedWithoutWaitingForAnEvent) {
  // A backend streaming behind its 101 can make the verdict hold before the flow reaches the
  // table; the HOLD event came when nobody knew the cookie.
  wsteer_flow_side held{};
  held.holding = 1;
  held.held = 4;
  adopt(held);
  EXPECT_TRUE(client().interest.readable) << "held bytes nobody relays: the flow would stall for good";
  client().readable = {'h', 'e', 'l', 'd'};
  table_.tick();
  EXPECT_EQ(backend().sent, "held");
}

TEST_F(FlowTableTest, AFlowTheVerdictPausedBeforeItWasAdoptedIsPaused) {
  wsteer_flow_side pausing{};
  pausing.pausing = 1;
  adopt(pausing);
  EXPECT_EQ(client().rcvlowat, (1u << 20) / 4);
  EXPECT_TRUE(table_.busy()) << "a paused side must be looked at until it can resume";
}

TEST_F(FlowTableTest, AnErrorEndsBothSidesAtOnceAndLaterEventsOfThePassAreHarmless) {
  adopt();
  table_.on_socket(client_token(), SocketEvents{true, false, false, false});
  // Still in the same pass: more events for the ended flow must not touch it.
  hangup(backend_token());
  hold(kClientCookie);
  EXPECT_TRUE(is_open(client_fd_)) << "destroyed during the pass: a handler could still hold it";
  table_.tick();
  EXPECT_EQ(table_.size(), 0u);
  EXPECT_EQ(ops_.removed.size(), 1u);
  EXPECT_FALSE(is_open(client_fd_));
  EXPECT_FALSE(backend().write_shut) << "a reset is not a half-close";
}

TEST_F(FlowTableTest, AStuckHalfCloseGivesUpOnlyAfterTheDrainTimeoutWithoutProgress) {
  adopt();
  client_redirects(1000, false);  // redirected, never written: the backend's reader is gone
  hangup(client_token());
  table_.tick();
  ops_.clock += 9s;
  table_.tick();
  EXPECT_FALSE(backend().write_shut);
  backend().acked += 10;  // progress: the deadline moves
  table_.tick();
  ops_.clock += 9s;
  table_.tick();
  EXPECT_FALSE(backend().write_shut) << "the reader made progress 9 s ago";
  ops_.clock += 2s;
  table_.tick();
  EXPECT_TRUE(backend().write_shut);
}

TEST_F(FlowTableTest, HeldBytesAreRelayedInOrderAfterTheRedirectedOnesAndTheFlowGoesBackToTheKernel) {
  adopt();
  client_redirects(300, false);  // the backend's send path has not taken all of them yet
  const std::string held = "0123456789abcdef";
  ops_.sides[kClientCookie].held = held.size();
  client().readable.assign(held.begin(), held.end());
  hold(kClientCookie);
  EXPECT_TRUE(client().interest.readable) << "a relaying socket must wake the loop when readable";
  EXPECT_EQ(backend().sent, "") << "relayed bytes must not overtake redirected ones still in the backlog";
  backend().written += 300;
  table_.tick();
  EXPECT_EQ(backend().sent, held);
  EXPECT_EQ(ops_.ctl[kClientCookie].relayed, held.size()) << "the verdict must learn what was relayed";
  EXPECT_EQ(ops_.ctl[kClientCookie].peer_written_base, kBase);
  EXPECT_FALSE(client().interest.readable) << "all held bytes relayed: the kernel has the flow again";
  EXPECT_FALSE(table_.busy());
  EXPECT_EQ(table_.stats().relayed_bytes, held.size());
  EXPECT_EQ(table_.stats().holds, 1u);
  EXPECT_EQ(table_.stats().read_bytes[0], held.size()) << "the agent read the held bytes itself";
  EXPECT_EQ(table_.stats().read_bytes[1], 0u);
}

TEST_F(FlowTableTest, ARelayNeverPutsMoreThanTheLimitInTheMiddleAndLeavesTheRestOnTheSender) {
  ops_.limit = 1000;
  adopt();
  const std::string held(5000, 'x');
  ops_.sides[kClientCookie].held = held.size();
  client().readable.assign(held.begin(), held.end());
  hold(kClientCookie);
  table_.tick();
  EXPECT_EQ(backend().sent.size(), 1000u);
  // Only written bytes are taken off the sender's socket: the rest, still charged to its receive
  // buffer, keeps its window closed until the agent can write them.
  EXPECT_EQ(client().readable.size(), 4000u) << "held bytes were taken before they could be written";
  EXPECT_EQ(ops_.ctl[kClientCookie].relayed, 1000u);
  EXPECT_EQ(table_.stats().bytes_in_middle, 1000u);
  EXPECT_EQ(table_.stats().flows_holding, 1u);
  backend().acked = kBase + 5000;  // the reader catches up
  for (int i = 0; i < 4; ++i) table_.tick();
  EXPECT_EQ(backend().sent, held);
  EXPECT_TRUE(client().readable.empty());
  EXPECT_EQ(ops_.ctl[kClientCookie].relayed, 5000u);
  EXPECT_EQ(table_.stats().flows_holding, 0u);
}

TEST_F(FlowTableTest, APeerThatFailsARelayEndsTheFlow) {
  adopt();
  ops_.sides[kClientCookie].held = 3;
  client().readable = {'a', 'b', 'c'};
  backend().send_error = EPIPE;
  hold(kClientCookie);
  table_.tick();
  EXPECT_EQ(table_.size(), 0u);
  EXPECT_EQ(ops_.removed.size(), 1u);
}

TEST_F(FlowTableTest, AFullPeerSendBufferWaitsForWritable) {
  adopt();
  ops_.sides[kClientCookie].held = 10;
  client().readable.assign(10, 'z');
  backend().send_room = 4;
  hold(kClientCookie);
  EXPECT_EQ(backend().sent, "zzzz");
  EXPECT_TRUE(backend().interest.writable);
  backend().send_room = 100;
  table_.on_socket(backend_token(), SocketEvents{false, false, false, true});
  EXPECT_EQ(backend().sent, std::string(10, 'z'));
  EXPECT_FALSE(backend().interest.writable);
}

TEST_F(FlowTableTest, APausedSenderResumesOnceItsPeerDrainedToHalfTheLimit) {
  ops_.limit = 1000;
  adopt();
  client_redirects(900);
  table_.on_datapath_event(wsteer_event{kClientCookie, WSTEER_EVENT_PAUSE, 0});
  EXPECT_EQ(client().rcvlowat, 250u);
  EXPECT_TRUE(table_.busy());
  table_.tick();
  EXPECT_EQ(client().rcvlowat, 250u) << "900 bytes in the middle, over half the limit";
  backend().acked = kBase + 500;
  table_.tick();
  EXPECT_EQ(client().rcvlowat, 1u);
  EXPECT_FALSE(table_.busy());
}

TEST_F(FlowTableTest, ARebalanceCloseFinishesTheBackendsFrameThenWritesClose1012AndDropsTheRest) {
  adopt();
  auto& side = ops_.sides[kBackendCookie];
  side.frames.frame_left = 3;  // the backend is 3 payload bytes short of its current frame's end
  EXPECT_TRUE(table_.request_close(id_));
  EXPECT_EQ(ops_.ctl[kBackendCookie].close, 1) << "the verdict must hold the backend's bytes for the close";
  EXPECT_FALSE(table_.request_close(id_)) << "already closing";
  side.closing = 1;
  side.held = 6;
  backend().readable = {'a', 'b', 'c', 'X', 'Y', 'Z'};
  ops_.clock += 10ms;
  table_.tick();
  EXPECT_EQ(client().sent, std::string("abc") + std::string("\x88\x02\x03\xF4", 4))
      << "the frame in progress ends before the close frame; nothing after it reaches the client";
  EXPECT_EQ(table_.closing(), 1u);
  ops_.clock += 6s;  // the client never answers the close
  table_.tick();
  EXPECT_EQ(table_.size(), 0u);
  const auto& counts = table_.rebalance_counts().begin()->second;
  EXPECT_EQ(counts.closed, 1u);
  EXPECT_EQ(counts.timed_out, 1u);
  EXPECT_EQ(table_.stats().read_bytes[1], 6u) << "relayed and dropped bytes were both read by the agent";
}

// A close that takes over from a relay: the relay had peeked at held bytes it could not write yet.
// They are still on the socket, so the close reads them once, and the client gets each byte once.
TEST_F(FlowTableTest, ACloseTakingOverARelayDeliversThePeekedBytesOnce) {
  adopt();
  auto& side = ops_.sides[kBackendCookie];
  side.held = 6;
  backend().readable = {'a', 'b', 'c', 'X', 'Y', 'Z'};
  client().send_room = 2;
  hold(kBackendCookie);
  EXPECT_EQ(client().sent, "ab");
  EXPECT_EQ(backend().readable.size(), 4u) << "bytes not yet written must stay on the socket";
  EXPECT_TRUE(table_.request_close(id_));
  // The verdict saw the request after the 6 held bytes, 1 payload byte before a frame boundary,
  // and holds what comes after for the close.
  side.closing = 1;
  side.close_held_base = 6;
  side.frames.frame_left = 1;
  side.held = 8;
  backend().readable.push_back('P');
  backend().readable.push_back('Q');
  client().send_room = ~std::size_t{0};
  ops_.clock += 10ms;
  table_.tick();
  EXPECT_EQ(client().sent, std::string("abcXYZP") + std::string("\x88\x02\x03\xF4", 4));
}

// A hand-off may take a flow mid-relay: the bytes the relay could not write yet were only peeked,
// so they are still on the socket for the successor, and what was written is in the counts it gets.
TEST_F(FlowTableTest, AFlowMidRelayCanBeHandedOverWithItsUnwrittenBytesStillOnTheSocket) {
  adopt();
  ops_.sides[kBackendCookie].held = 6;
  backend().readable = {'a', 'b', 'c', 'X', 'Y', 'Z'};
  client().send_room = 2;
  hold(kBackendCookie);
  ASSERT_EQ(client().sent, "ab");
  const auto released = table_.release_quiet();
  ASSERT_EQ(released.size(), 1u);
  EXPECT_EQ(released[0].backend_relayed, 2u);
  EXPECT_EQ(std::string(backend().readable.begin(), backend().readable.end()), "cXYZ");
  EXPECT_EQ(table_.size(), 0u);
}

TEST_F(FlowTableTest, AFlowWhoseFramesAreUntrackedIsNeverClosedByRebalance) {
  adopt();
  ops_.sides[kBackendCookie].frames.lost = 1;
  EXPECT_FALSE(table_.request_close(id_));
  const auto candidates = table_.rebalance_candidates();
  ASSERT_EQ(candidates.size(), 1u);
  EXPECT_FALSE(candidates[0].closable);
}

TEST_F(FlowTableTest, AFlowThatCannotBeWatchedIsClosedRatherThanLeftUnattended) {
  ops_.refuse_watch = true;
  adopt();
  table_.reap();
  EXPECT_EQ(table_.size(), 0u);
  EXPECT_EQ(ops_.removed.size(), 1u);
  EXPECT_EQ(active_.Value(), 0);
}

TEST_F(FlowTableTest, EndAllClosesEveryFlow) {
  adopt();
  adopt();
  EXPECT_EQ(table_.size(), 2u);
  table_.end_all();
  EXPECT_EQ(table_.size(), 0u);
  EXPECT_EQ(ops_.removed.size(), 2u);
  EXPECT_EQ(active_.Value(), 0);
}

}  // namespace
}  // namespace wsteer::proxy
