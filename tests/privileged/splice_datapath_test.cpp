// The splice datapath on its own (no agent process): root and BPF, no namespaces, no WebSocket.
// Label `privileged`: it proves what whole-agent suites cannot provoke, a constructor that fails
// after the verdict is attached, and that wsteerctl reads every counter through the shared reader.
#include "datapath/map_names.h"
#include "datapath/splice_datapath.h"
#include "harness/command.h"
#include "harness/privileges.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <thread>

namespace wsteer {
namespace {

namespace fs = std::filesystem;
using datapath::SpliceDatapath;

fs::path unique_pin_dir(const char* what) {
  static int instance = 0;
  return fs::path("/sys/fs/bpf") /
         ("wsteer-dptest-" + std::string(what) + "-" + std::to_string(::getpid()) + "-" + std::to_string(instance++));
}

// Removes whatever a failed test left (pins, the folder) so runs do not pile up.
struct PinDirCleanup {
  fs::path dir;
  ~PinDirCleanup() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

std::uint32_t prog_id(int prog_fd) {
  bpf_prog_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0) return 0;
  return info.id;
}

std::uint32_t attached_count(int sockmap_fd) {
  __u32 ids[4] = {}, count = 4, flags = 0;
  if (bpf_prog_query(sockmap_fd, BPF_SK_SKB_VERDICT, 0, &flags, ids, &count) != 0) return 9999;
  return count;
}

class SpliceDatapathTest : public ::testing::Test {
 protected:
  void SetUp() override { WSTEER_REQUIRE_PRIVILEGED(); }
  void TearDown() override { SpliceDatapath::set_constructed_hook_for_test(nullptr); }
};

// Mechanism: SpliceDatapath's test-only hook runs at the very end of its constructor (maps loaded
// and pinned, verdict attached, ring buffer open) and throws there. While attached it takes its
// own descriptor of wsteer_spliced from the pin, which keeps that map alive after the datapath is
// gone: if the unwinding forgot to detach, the kernel would still report the program on it.
TEST_F(SpliceDatapathTest, AConstructorThatThrowsAfterTheAttachLeavesNothingBehind) {
  const auto dir = unique_pin_dir("fail");
  PinDirCleanup cleanup{dir};
  int spliced = -1;
  std::uint32_t verdict_id = 0;
  SpliceDatapath::set_constructed_hook_for_test([&](SpliceDatapath& dp) {
    ASSERT_TRUE(dp.verdict_attached());
    ASSERT_TRUE(fs::exists(dir / datapath::map_names::spliced));
    spliced = bpf_obj_get((dir / datapath::map_names::spliced).c_str());
    ASSERT_GE(spliced, 0) << std::strerror(errno);
    __u32 ids[4] = {}, count = 4, flags = 0;
    ASSERT_EQ(bpf_prog_query(spliced, BPF_SK_SKB_VERDICT, 0, &flags, ids, &count), 0);
    ASSERT_EQ(count, 1u);  // the positive control: attached now
    verdict_id = ids[0];
    throw std::runtime_error("injected failure after the attach");
  });
  EXPECT_THROW(SpliceDatapath(dir, 251), std::runtime_error);
  SpliceDatapath::set_constructed_hook_for_test(nullptr);
  ASSERT_GE(spliced, 0);
  ASSERT_NE(verdict_id, 0u);

  EXPECT_FALSE(fs::exists(dir)) << "pins or the folder survived the failed constructor";
  EXPECT_EQ(attached_count(spliced), 0u) << "the verdict is still attached to wsteer_spliced";
  // The program itself is freed once detached and its skeleton closed (the kernel frees it after
  // an RCU grace period, hence the short wait).
  int prog = -1;
  for (int i = 0; i < 100; ++i) {
    prog = bpf_prog_get_fd_by_id(verdict_id);
    if (prog < 0) break;
    ::close(prog);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_LT(prog, 0) << "the verdict program " << verdict_id << " is still loaded";
  ::close(spliced);

  // The flock is free: a datapath on the same folder starts (and finds no stale pins to replace).
  {
    SpliceDatapath again(dir, 251);
    EXPECT_TRUE(again.verdict_attached());
  }
  EXPECT_FALSE(fs::exists(dir)) << "a clean destruction removes the folder";
}

TEST_F(SpliceDatapathTest, ASecondDatapathOnTheSameFolderFailsAndTheFirstKeepsItsPins) {
  const auto dir = unique_pin_dir("lock");
  PinDirCleanup cleanup{dir};
  SpliceDatapath first(dir, 251);
  try {
    SpliceDatapath second(dir, 251);
    ADD_FAILURE() << "two datapaths on one folder";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("another wsteer-agent"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fs::exists(dir / datapath::map_names::flows));
  EXPECT_TRUE(first.verdict_attached());
}

// wsteerctl reads the pins through the same SpliceMaps as the agent: every counter the verdict
// keeps, including the backpressure and rebalance ones its own summing once dropped.
TEST_F(SpliceDatapathTest, WsteerctlStatsShowsEveryVerdictCounterSummedOverCpus) {
  const auto dir = unique_pin_dir("stats");
  PinDirCleanup cleanup{dir};
  SpliceDatapath dp(dir, 251);
  const int ncpus = libbpf_num_possible_cpus();
  ASSERT_GT(ncpus, 0);
  std::vector<wsteer_stats> per_cpu(static_cast<std::size_t>(ncpus));
  for (auto& s : per_cpu) {
    s.bytes[WSTEER_DIR_CLIENT_TO_BACKEND] = 1;
    s.bytes[WSTEER_DIR_BACKEND_TO_CLIENT] = 2;
    s.skbs[WSTEER_DIR_CLIENT_TO_BACKEND] = 3;
    s.skbs[WSTEER_DIR_BACKEND_TO_CLIENT] = 4;
    s.redirect_failures = 5;
    s.zero_len_dropped = 6;
    s.no_flow = 7;
    s.held_bytes = 8;
    s.holds = 9;
    s.frame_walks_lost = 10;
    s.close_holds = 11;
  }
  const std::uint32_t zero = 0;
  ASSERT_EQ(bpf_map_update_elem(dp.maps().fd(datapath::map_names::stats), &zero, per_cpu.data(), BPF_ANY), 0)
      << std::strerror(errno);
  const auto n = static_cast<std::uint64_t>(ncpus);
  EXPECT_EQ(dp.totals().stats.held_bytes, 8 * n);  // the agent's view

  const auto r = test::run_command({test::wsteer_binary("wsteerctl").string(), "stats", "--bpffs", dir.string(),
                                    "--control-socket", (dir.parent_path() / "no-such-agent.sock").string(), "-o",
                                    "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto bpf = boost::json::parse(r.out).at("bpf").as_object();
  const std::pair<const char*, std::uint64_t> expected[] = {
      {"bytes_client_to_backend", 1}, {"bytes_backend_to_client", 2}, {"skbs_client_to_backend", 3},
      {"skbs_backend_to_client", 4},  {"redirect_failures", 5},       {"zero_len_dropped", 6},
      {"no_flow", 7},                 {"held_bytes", 8},              {"holds", 9},
      {"frame_walks_lost", 10},       {"close_holds", 11}};
  for (const auto& [field, per] : expected) {
    ASSERT_TRUE(bpf.contains(field)) << field << " missing from " << r.out;
    EXPECT_EQ(bpf.at(field).to_number<std::uint64_t>(), per * n) << field;
  }
  EXPECT_EQ(bpf.size(), std::size(expected)) << "a counter the test does not know: " << r.out;

  const auto table = test::run_command({test::wsteer_binary("wsteerctl").string(), "stats", "--bpffs", dir.string(),
                                        "--control-socket", (dir.parent_path() / "no-such-agent.sock").string()});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("bytes held (backpressure)"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("holds (backpressure)"), std::string::npos) << table.out;
}

}  // namespace
}  // namespace wsteer
