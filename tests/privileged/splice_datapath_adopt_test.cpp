// Hand-off, the datapath half (no agent process): a successor SpliceDatapath adopts the pinned
// maps of a live one, the old one then lets go without undoing anything, and a flow spliced by
// the old one keeps moving bytes through the kernel. An incompatible successor is refused and the
// old one keeps serving. Root and BPF; loopback TCP in the test's own namespace, nothing else.
#include "datapath/map_names.h"
#include "datapath/socket_info.h"
#include "datapath/splice_datapath.h"
#include "harness/privileges.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

namespace wsteer {
namespace {

namespace fs = std::filesystem;
using datapath::SpliceDatapath;

fs::path unique_pin_dir(const char* what) {
  static int instance = 0;
  return fs::path("/sys/fs/bpf") /
         ("wsteer-adopttest-" + std::string(what) + "-" + std::to_string(::getpid()) + "-" + std::to_string(instance++));
}

struct PinDirCleanup {
  fs::path dir;
  ~PinDirCleanup() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

struct Fd {
  int fd = -1;
  explicit Fd(int f = -1) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// A connected loopback TCP pair: {the connecting end, the accepted end}.
std::pair<Fd, Fd> tcp_pair() {
  Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(listener.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(listener.fd, 1) != 0 ||
      ::getsockname(listener.fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw std::runtime_error("listen on loopback");
  Fd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (::connect(client.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) throw std::runtime_error("connect");
  Fd accepted(::accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC));
  return {std::move(client), std::move(accepted)};
}

// Reads exactly `n` bytes within 5 s (empty on timeout).
std::optional<std::string> read_n(int fd, std::size_t n) {
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string out(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::recv(fd, out.data() + got, n - got, 0);
    if (r <= 0) return std::nullopt;
    got += static_cast<std::size_t>(r);
  }
  return out;
}

// A client <-> agent <-> backend flow spliced by `dp`: the agent holds `client_side` (accepted
// from the client) and `backend_side` (its connection to the backend).
struct SplicedPair {
  Fd client, client_side, backend_side, backend;
  datapath::FlowSockets sockets;
};

SplicedPair splice_pair(SpliceDatapath& dp) {
  auto [client, client_side] = tcp_pair();
  auto [backend_side, backend] = tcp_pair();
  SplicedPair p{std::move(client), std::move(client_side), std::move(backend_side), std::move(backend), {}};
  p.sockets = {p.client_side.fd, p.backend_side.fd};
  if (dp.add_targets(p.sockets, {})) throw std::runtime_error("add_targets");
  if (dp.splice(p.backend_side.fd, p.sockets.backend_cookie) || dp.splice(p.client_side.fd, p.sockets.client_cookie))
    throw std::runtime_error("splice");
  return p;
}

// Bytes both ways through the verdict, counted by it (not by a userspace relay: there is none).
void expect_flow_moves(SpliceDatapath& dp, SplicedPair& p, const std::string& tag) {
  const auto before = dp.redirected_bytes(p.sockets.client_cookie);
  const std::string up = "up-" + tag, down = "down-" + tag;
  ASSERT_EQ(::send(p.client.fd, up.data(), up.size(), 0), static_cast<ssize_t>(up.size()));
  EXPECT_EQ(read_n(p.backend.fd, up.size()), up);
  ASSERT_EQ(::send(p.backend.fd, down.data(), down.size(), 0), static_cast<ssize_t>(down.size()));
  EXPECT_EQ(read_n(p.client.fd, down.size()), down);
  EXPECT_EQ(dp.redirected_bytes(p.sockets.client_cookie), before + up.size()) << "not redirected by the verdict";
}

class SpliceDatapathAdoptTest : public ::testing::Test {
 protected:
  void SetUp() override { WSTEER_REQUIRE_PRIVILEGED(); }
  void TearDown() override { ::unsetenv("WSTEER_TEST_ABI_VERSION"); }
};

TEST_F(SpliceDatapathAdoptTest, ASuccessorAdoptsThePinsAndTheFlowKeepsMovingAfterTheOldOneIsGone) {
  const auto dir = unique_pin_dir("ok");
  PinDirCleanup cleanup{dir};
  auto old_dp = std::make_unique<SpliceDatapath>(dir, 251);
  auto flow = splice_pair(*old_dp);
  expect_flow_moves(*old_dp, flow, "before");

  old_dp->release_lock();
  SpliceDatapath successor(dir, 251, 0, 1, false, /*adopt=*/true);
  EXPECT_TRUE(successor.verdict_attached()) << "the successor's verdict replaces the old one on wsteer_spliced";
  EXPECT_EQ(successor.flow_side(flow.sockets.client_cookie).has_value(), true) << "the flow's entry is visible";
  old_dp->hand_over();
  successor.confirm_adoption();
  old_dp.reset();  // must leave pins, attachment and folder in place

  ASSERT_TRUE(fs::exists(dir / datapath::map_names::spliced)) << "the old datapath unpinned on exit";
  EXPECT_TRUE(successor.verdict_attached());
  expect_flow_moves(successor, flow, "after");

  // The successor owns everything now: a new flow splices, and removing flows works.
  auto second = splice_pair(successor);
  expect_flow_moves(successor, second, "new");
  successor.remove(second.sockets);
  successor.remove(flow.sockets);
  EXPECT_FALSE(successor.flow_side(flow.sockets.client_cookie));
}

TEST_F(SpliceDatapathAdoptTest, TheLastOwnerCleansUpAsBefore) {
  const auto dir = unique_pin_dir("cleanup");
  PinDirCleanup cleanup{dir};
  {
    auto old_dp = std::make_unique<SpliceDatapath>(dir, 251);
    old_dp->release_lock();
    SpliceDatapath successor(dir, 251, 0, 1, false, true);
    old_dp->hand_over();
    successor.confirm_adoption();
    old_dp.reset();
  }
  EXPECT_FALSE(fs::exists(dir)) << "the successor left pins or the folder behind";
}

// A successor that goes away before the hand-off is done (never confirmed) undoes nothing: the
// owner's pins stay, and with its verdict attached again its new flows splice as before.
TEST_F(SpliceDatapathAdoptTest, AnUnconfirmedSuccessorLeavesTheOwnerWhole) {
  const auto dir = unique_pin_dir("unconfirmed");
  PinDirCleanup cleanup{dir};
  SpliceDatapath owner(dir, 251);
  auto flow = splice_pair(owner);
  owner.release_lock();
  {
    SpliceDatapath successor(dir, 251, 0, 1, false, true);
    EXPECT_FALSE(owner.verdict_attached()) << "the successor's verdict replaced the owner's";
  }
  ASSERT_TRUE(fs::exists(dir / datapath::map_names::spliced)) << "the unconfirmed successor unpinned";
  owner.relock();
  owner.reattach_verdict();
  EXPECT_TRUE(owner.verdict_attached());
  expect_flow_moves(owner, flow, "old");
  auto fresh = splice_pair(owner);
  expect_flow_moves(owner, fresh, "fresh");
}

TEST_F(SpliceDatapathAdoptTest, AnIncompatibleLayoutVersionIsRefusedAndTheOwnerKeepsServing) {
  const auto dir = unique_pin_dir("abi");
  PinDirCleanup cleanup{dir};
  SpliceDatapath owner(dir, 251);
  auto flow = splice_pair(owner);
  owner.release_lock();
  ::setenv("WSTEER_TEST_ABI_VERSION", "999", 1);
  try {
    SpliceDatapath successor(dir, 251, 0, 1, false, true);
    ADD_FAILURE() << "an incompatible successor adopted the maps";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("layout version 1, this agent is built for version 999"), std::string::npos)
        << e.what();
  }
  ::unsetenv("WSTEER_TEST_ABI_VERSION");
  owner.relock();
  EXPECT_TRUE(owner.verdict_attached());
  expect_flow_moves(owner, flow, "still");
}

TEST_F(SpliceDatapathAdoptTest, OtherMapSizesAreRefused) {
  const auto dir = unique_pin_dir("shape");
  PinDirCleanup cleanup{dir};
  SpliceDatapath owner(dir, 251);
  owner.release_lock();
  try {
    SpliceDatapath successor(dir, 257, 0, 1, false, true);
    ADD_FAILURE() << "a successor with another Maglev size adopted the maps";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("wsteer_maglev"), std::string::npos) << e.what();
  }
  owner.relock();
  EXPECT_TRUE(owner.verdict_attached());
}

}  // namespace
}  // namespace wsteer
