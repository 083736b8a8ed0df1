// The endpoints file: its format (a table of good and bad files) and the watcher (a temp dir).
#include "endpoints/endpoints_file.h"
#include "endpoints/endpoints_parser.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <ostream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace wsteer::steering {
// Readable failures: gtest finds this by argument-dependent lookup.
void PrintTo(const Endpoint& e, std::ostream* out) {
  *out << e.name << "=" << e.address.to_string() << ":" << e.port << " weight=" << e.weight
       << (e.draining ? " drain" : "") << " max-connections=" << e.max_connections;
}
}  // namespace wsteer::steering

namespace wsteer::endpoints {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using steering::Endpoint;
using steering::EndpointList;

Endpoint endpoint(std::string name, const char* ip, std::uint16_t port, std::uint32_t weight = 1,
                  bool draining = false, std::uint32_t max_connections = 0) {
  return {std::move(name), boost::asio::ip::make_address(ip), port, weight, draining, max_connections};
}

// ---- format -------------------------------------------------------------------------------

struct GoodFile {
  const char* name;
  std::string text;
  EndpointList expected;
};

std::ostream& operator<<(std::ostream& out, const GoodFile& c) { return out << c.name; }

class GoodFiles : public testing::TestWithParam<GoodFile> {};

TEST_P(GoodFiles, ParseIntoTheExpectedList) {
  const auto parsed = parse_endpoints(GetParam().text);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(*parsed, GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Format, GoodFiles,
    testing::Values(
        GoodFile{"empty", "", {}},
        GoodFile{"comments_and_blanks", "# backends\n\n   \n\t# none yet\n", {}},
        GoodFile{"default_name", "10.0.0.1:80\n", {endpoint("10.0.0.1:80", "10.0.0.1", 80)}},
        GoodFile{"named_with_every_option", "pod-a 10.0.0.1:8080 weight=3 drain max-connections=100  # canary\n",
                 {endpoint("pod-a", "10.0.0.1", 8080, 3, true, 100)}},
        GoodFile{"options_in_any_order", "pod-a 10.0.0.1:8080 max-connections=7 drain weight=2",
                 {endpoint("pod-a", "10.0.0.1", 8080, 2, true, 7)}},
        GoodFile{"ipv6", "[::1]:9000\npod-b [fd00::1]:80 weight=1000\n",
                 {endpoint("[::1]:9000", "::1", 9000), endpoint("pod-b", "fd00::1", 80, 1000)}},
        GoodFile{"ipv6_default_name_is_canonical", "[0:0::1]:9000", {endpoint("[::1]:9000", "::1", 9000)}},
        GoodFile{"port_bounds", "10.0.0.1:1\n10.0.0.1:65535\n",
                 {endpoint("10.0.0.1:1", "10.0.0.1", 1), endpoint("10.0.0.1:65535", "10.0.0.1", 65535)}},
        GoodFile{"crlf_and_tabs", "a\t10.0.0.1:80\r\nb 10.0.0.2:80\tweight=2\r\n",
                 {endpoint("a", "10.0.0.1", 80), endpoint("b", "10.0.0.2", 80, 2)}},
        GoodFile{"max_connections_zero_is_unlimited", "10.0.0.1:80 max-connections=0",
                 {endpoint("10.0.0.1:80", "10.0.0.1", 80)}},
        GoodFile{"file_order_kept", "z 10.0.0.9:80\na 10.0.0.1:80",
                 {endpoint("z", "10.0.0.9", 80), endpoint("a", "10.0.0.1", 80)}}),
    [](const auto& info) { return std::string(info.param.name); });

struct BadFile {
  const char* name;
  std::string text;
  std::size_t line;
  std::string reason_contains;
};

std::ostream& operator<<(std::ostream& out, const BadFile& c) { return out << c.name; }

class BadFiles : public testing::TestWithParam<BadFile> {};

TEST_P(BadFiles, AreRejectedWithLineAndReason) {
  const auto parsed = parse_endpoints(GetParam().text);
  ASSERT_FALSE(parsed) << "parsed into " << parsed->size() << " endpoints";
  EXPECT_EQ(parsed.error().line, GetParam().line) << parsed.error().message();
  EXPECT_NE(parsed.error().reason.find(GetParam().reason_contains), std::string::npos) << parsed.error().message();
}

INSTANTIATE_TEST_SUITE_P(
    Format, BadFiles,
    testing::Values(
        BadFile{"hostname", "backend.default.svc:80", 1, "must be an IP address"},
        BadFile{"named_hostname", "pod-a localhost:80", 1, "must be an IP address"},
        BadFile{"port_zero", "10.0.0.1:0", 1, "port must be 1-65535"},
        BadFile{"port_too_big", "10.0.0.1:65536", 1, "port must be 1-65535"},
        BadFile{"port_not_a_number", "10.0.0.1:http", 1, "port must be 1-65535"},
        BadFile{"port_empty", "10.0.0.1:", 1, "port must be 1-65535"},
        BadFile{"port_missing", "10.0.0.1", 1, "expected HOST:PORT"},
        BadFile{"name_only", "pod-a", 1, "expected HOST:PORT"},
        BadFile{"ipv6_unbracketed", "::1:9000", 1, "must be in brackets"},
        BadFile{"ipv4_bracketed", "[10.0.0.1]:80", 1, "brackets are for IPv6"},
        BadFile{"ipv6_no_port", "[::1]", 1, "expected [IPV6]:PORT"},
        BadFile{"weight_zero", "10.0.0.1:80 weight=0", 1, "weight must be 1-1000"},
        BadFile{"weight_too_big", "10.0.0.1:80 weight=1001", 1, "weight must be 1-1000"},
        BadFile{"weight_garbage", "10.0.0.1:80 weight=heavy", 1, "weight must be 1-1000"},
        BadFile{"weight_empty", "10.0.0.1:80 weight=", 1, "weight must be 1-1000"},
        BadFile{"max_connections_negative", "10.0.0.1:80 max-connections=-1", 1, "max-connections must be"},
        BadFile{"unknown_option", "10.0.0.1:80 fast", 1, "unknown option 'fast'"},
        BadFile{"flag_with_value", "10.0.0.1:80 drain=yes", 1, "unknown option 'drain=yes'"},
        BadFile{"option_twice", "10.0.0.1:80 weight=2 weight=3", 1, "option 'weight' given twice"},
        BadFile{"option_before_address", "weight=2 10.0.0.1:80", 1, "options go after HOST:PORT"},
        BadFile{"two_addresses", "10.0.0.1:80 10.0.0.2:80", 1, "unknown option '10.0.0.2:80'"},
        BadFile{"duplicate_name", "a 10.0.0.1:80\na 10.0.0.2:80", 2, "name 'a' already used on line 1"},
        BadFile{"duplicate_address", "a 10.0.0.1:80\n\nb 10.0.0.1:80", 3, "address 10.0.0.1:80 already used on line 1"},
        BadFile{"duplicate_default_name", "[::1]:80\n[0::1]:80", 2, "name '[::1]:80' already used on line 1"},
        BadFile{"line_counts_comments", "# header\n\n10.0.0.1:80\n10.0.0.2:80 weight=x # oops\n", 4, "weight"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(EndpointsError, MessageNamesSourceAndLine) {
  EXPECT_EQ((EndpointsError{"/etc/wsteer/endpoints", 3, "bad"}.message()), "/etc/wsteer/endpoints: line 3: bad");
  EXPECT_EQ((EndpointsError{"", 0, "bad"}.message()), "bad");
}

TEST(EndpointsError, ValueThrowsTheMessage) {
  const auto parsed = parse_endpoints("\nlocalhost:80");
  EXPECT_THROW(
      {
        try {
          (void)parsed.value();
        } catch (const std::invalid_argument& e) {
          EXPECT_STREQ(e.what(), "line 2: host 'localhost' must be an IP address (hostnames are not resolved)");
          throw;
        }
      },
      std::invalid_argument);
}

// ---- watcher ------------------------------------------------------------------------------

constexpr auto kDetectWithin = 2s;

// Holds every list the watcher reports, for the test thread to wait on.
class Recorder {
 public:
  EndpointsFileWatcher::Callback callback() {
    return [this](const EndpointList& list) {
      std::lock_guard lock(mutex_);
      lists_.push_back(list);
      changed_.notify_all();
    };
  }
  bool wait_for_calls(std::size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kDetectWithin, [&] { return lists_.size() >= count; });
  }
  std::vector<EndpointList> lists() {
    std::lock_guard lock(mutex_);
    return lists_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<EndpointList> lists_;
};

bool eventually(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + kDetectWithin;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

const EndpointList kOne{endpoint("a", "10.0.0.1", 80)};
const EndpointList kTwo{endpoint("a", "10.0.0.1", 80), endpoint("b", "10.0.0.2", 80, 2)};

class Watcher : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "wsteer-endpoints-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    file_ = dir_ / "endpoints";
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  fs::path file_;
  Recorder recorder_;
};

TEST_F(Watcher, StartReportsTheFirstListBeforeReturning) {
  write_file(file_, "a 10.0.0.1:80\n");
  EndpointsFileWatcher watcher(file_, recorder_.callback());
  const auto started = watcher.start();
  ASSERT_TRUE(started) << started.error().message();
  EXPECT_EQ(recorder_.lists(), std::vector<EndpointList>{kOne});
  EXPECT_EQ(watcher.reloads_ok(), 1u);
  EXPECT_EQ(watcher.reload_errors(), 0u);
}

TEST_F(Watcher, StartReportsAMalformedFileAndStillPicksUpItsFix) {
  write_file(file_, "a 10.0.0.1:80\nb backend:80\n");
  EndpointsFileWatcher watcher(file_, recorder_.callback());
  const auto started = watcher.start();
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().source, file_.string());
  EXPECT_EQ(started.error().line, 2u);
  EXPECT_TRUE(recorder_.lists().empty());
  EXPECT_EQ(watcher.reload_errors(), 1u);

  write_file(file_, "a 10.0.0.1:80\n");
  ASSERT_TRUE(recorder_.wait_for_calls(1));
  EXPECT_EQ(recorder_.lists(), std::vector<EndpointList>{kOne});
}

TEST_F(Watcher, StartReportsAMissingFile) {
  EndpointsFileWatcher watcher(file_, recorder_.callback());
  const auto started = watcher.start();
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().message().find("cannot read: No such file or directory"), std::string::npos)
      << started.error().message();
}

TEST_F(Watcher, StartFailsWhenTheDirectoryCannotBeWatched) {
  EndpointsFileWatcher watcher(dir_ / "missing" / "endpoints", recorder_.callback());
  const auto started = watcher.start();
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().message().find("cannot watch directory"), std::string::npos) << started.error().message();
}

TEST_F(Watcher, InPlaceEditIsDetected) {
  write_file(file_, "a 10.0.0.1:80\n");
  EndpointsFileWatcher watcher(file_, recorder_.callback());
  ASSERT_TRUE(watcher.start());

  write_file(file_, "a 10.0.0.1:80\nb 10.0.0.2:80 weight=2\n");
  ASSERT_TRUE(recorder_.wait_for_calls(2));
  EXPECT_EQ(recorder_.lists().back(), kTwo);
}

TEST_F(Watcher, MalformedEditKeepsTheLastGoodListAndCallsNothing) {
  write_file(file_, "a 10.0.0.1:80\n");
  EndpointsFileWatcher watcher(file_, recorder_.callback());
  ASSERT_TRUE(watcher.start());

  write_file(file_, "a 10.0.0.1:80\nb 10.0.0.2:99999\n");
  ASSERT_TRUE(eventually([&] { return watcher.reload_errors() == 1; }));
  EXPECT_EQ(recorder_.lists(), std::vector<EndpointList>{kOne});

  // A good edit afterwards goes through as usual.
  write_file(file_, "a 10.0.0.1:80\nb 10.0.0.2:80 weight=2\n");
  ASSERT_TRUE(recorder_.wait_for_calls(2));
  EXPECT_EQ(recorder_.lists().back(), kTwo);
}

TEST_F(Watcher, EditLeavingTheListAsItWasCallsNothing) {
  write_file(file_, "a 10.0.0.1:80\n");
  EndpointsFileWatcher watcher(file_, recorder_.callback());
  ASSERT_TRUE(watcher.start());

  write_file(file_, "# just a comment now\na   10.0.0.1:80   weight=1\n");
  ASSERT_TRUE(eventually([&] { return watcher.reloads_ok() == 2; }));
  EXPECT_EQ(recorder_.lists().size(), 1u);
}

TEST_F(Watcher, RenameReplaceIsDetected) {
  write_file(file_, "a 10.0.0.1:80\n");
  EndpointsFileWatcher watcher(file_, recorder_.callback());
  ASSERT_TRUE(watcher.start());

  write_file(dir_ / ".endpoints.swp", "a 10.0.0.1:80\nb 10.0.0.2:80 weight=2\n");
  fs::rename(dir_ / ".endpoints.swp", file_);
  ASSERT_TRUE(recorder_.wait_for_calls(2));
  EXPECT_EQ(recorder_.lists().back(), kTwo);
}

// The layout the kubelet gives a mounted ConfigMap, and its atomic update: a new timestamped
// folder, then a rename of the `..data` symlink onto it.
TEST_F(Watcher, ConfigMapSymlinkSwapIsDetected) {
  fs::create_directory(dir_ / "..2024_01_01");
  write_file(dir_ / "..2024_01_01" / "endpoints", "a 10.0.0.1:80\n");
  fs::create_directory_symlink("..2024_01_01", dir_ / "..data");
  fs::create_symlink("..data/endpoints", file_);

  EndpointsFileWatcher watcher(file_, recorder_.callback());
  ASSERT_TRUE(watcher.start());
  EXPECT_EQ(recorder_.lists(), std::vector<EndpointList>{kOne});

  fs::create_directory(dir_ / "..2024_01_02");
  write_file(dir_ / "..2024_01_02" / "endpoints", "a 10.0.0.1:80\nb 10.0.0.2:80 weight=2\n");
  fs::create_directory_symlink("..2024_01_02", dir_ / "..data_tmp");
  fs::rename(dir_ / "..data_tmp", dir_ / "..data");
  fs::remove_all(dir_ / "..2024_01_01");

  ASSERT_TRUE(recorder_.wait_for_calls(2));
  EXPECT_EQ(recorder_.lists().back(), kTwo);
}

TEST_F(Watcher, StopIsPromptIdempotentAndFinal) {
  write_file(file_, "a 10.0.0.1:80\n");
  EndpointsFileWatcher watcher(file_, recorder_.callback());
  ASSERT_TRUE(watcher.start());

  const auto before = std::chrono::steady_clock::now();
  watcher.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, 500ms);
  watcher.stop();

  write_file(file_, "a 10.0.0.1:80\nb 10.0.0.2:80 weight=2\n");
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(recorder_.lists().size(), 1u);
}

TEST_F(Watcher, DestructorStopsAStartedWatcher) {
  write_file(file_, "a 10.0.0.1:80\n");
  {
    EndpointsFileWatcher watcher(file_, recorder_.callback());
    ASSERT_TRUE(watcher.start());
  }
  {
    EndpointsFileWatcher never_started(file_, recorder_.callback());
  }
  EXPECT_EQ(recorder_.lists().size(), 1u);
}

}  // namespace
}  // namespace wsteer::endpoints
