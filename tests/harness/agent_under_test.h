// The real wsteer-agent, started in the topology's agent namespace with its own endpoints file
// and its own pin folder; backends are echo-server processes in the backend namespaces.
#pragma once

#include "harness/netns.h"
#include "harness/process.h"

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace wsteer::test {

// A scratch folder for one test run, removed at the end.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Echo-server processes, one per backend namespace, listening on port 9000.
class Backends {
 public:
  Backends(const Topology& topology, const TempDir& dir, bool first_frame = false);
  // The endpoints file text naming every backend b0..bN-1.
  std::string endpoints() const;
  Process& process(int i) { return *processes_.at(i); }
  void restart(int i);  // after kill: start it again

 private:
  void start(int i);
  const Topology& topology_;
  const TempDir& dir_;
  bool first_frame_;
  std::vector<std::unique_ptr<Process>> processes_;
};

class AgentUnderTest {
 public:
  static constexpr unsigned short kPort = 8080;
  static constexpr unsigned short kMetricsPort = 9090;
  // As `endpoints`: start the agent without --listen/--endpoints-file (its services come from
  // extra_args: --config with services:, or --service).
  static inline const std::string kServicesFromArgs = "\x01services-from-args";

  // Starts the agent and waits until /readyz answers 200 (throws if it does not within 10 s).
  AgentUnderTest(const Topology& topology, const TempDir& dir, const std::string& endpoints,
                 const std::string& datapath = "splice", const std::vector<std::string>& extra_args = {},
                 const std::string& listen_address = "10.77.1.1");
  // SIGTERM, wait, then remove a pin folder the agent left behind.
  ~AgentUnderTest();

  void write_endpoints(const std::string& text);  // atomically, as an editor or ConfigMap would
  std::map<std::string, double> metrics() const;  // "name{labels}" -> value
  Process& process() { return *process_; }
  const std::filesystem::path& bpffs() const { return bpffs_; }
  // Where the agent's control socket is: the default for its bpffs folder (/run/wsteer/...).
  std::filesystem::path control_socket() const;
  const std::string& host() const { return host_; }
  std::size_t flow_map_entries() const;  // entries in the pinned wsteer_flows
  // Starts the agent again with the same arguments and pin folder (after it was killed) and waits
  // until it is ready.
  void restart();

 private:
  const Topology& topology_;
  std::filesystem::path endpoints_file_;
  std::filesystem::path bpffs_;
  void start();
  std::string host_;
  std::vector<std::string> argv_;
  std::filesystem::path log_;
  std::unique_ptr<Process> process_;
};

// The wsteer-agent binary under test (for tests that start agents themselves, e.g. the hand-off).
std::string agent_binary();

// Sum of every sample of `name` (all label sets).
double metric_sum(const std::map<std::string, double>& metrics, const std::string& name);

}  // namespace wsteer::test
