#include "harness/agent_under_test.h"

#include "admin/control_protocol.h"
#include "datapath/map_keys.h"
#include "datapath/map_names.h"
#include "harness/ws_client.h"

#include <bpf/bpf.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#ifndef WSTEER_BIN_DIR
#error "WSTEER_BIN_DIR must name the folder holding wsteer-agent"
#endif

namespace wsteer::test {

TempDir::TempDir() {
  std::random_device rd;
  path_ = std::filesystem::temp_directory_path() /
          ("wsteer-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd() % 100000));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Backends::Backends(const Topology& topology, const TempDir& dir, bool first_frame)
    : topology_(topology), dir_(dir), first_frame_(first_frame) {
  processes_.resize(topology.backends());
  for (int i = 0; i < topology.backends(); ++i) start(i);
  for (int i = 0; i < topology.backends(); ++i) {  // wait until each one listens
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (processes_[i]->log().find("listening") == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("backend did not start: " + processes_[i]->log());
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
}

void Backends::start(int i) {
  std::vector<std::string> argv{"/proc/self/exe", "--echo-server", "b" + std::to_string(i),
                                topology_.backend_address(i), "9000"};
  if (first_frame_) argv.push_back("--first-frame");
  // /proc/self/exe is resolved by the parent before fork: read the link.
  argv[0] = std::filesystem::read_symlink("/proc/self/exe").string();
  processes_[i] = std::make_unique<Process>(topology_.backend_ns(i), argv,
                                            (dir_.path() / ("backend" + std::to_string(i) + ".log")).string());
}

void Backends::restart(int i) {
  processes_[i].reset();
  start(i);
}

std::string Backends::endpoints() const {
  std::string text;
  for (int i = 0; i < topology_.backends(); ++i)
    text += "b" + std::to_string(i) + " " + topology_.backend_address(i) + ":9000\n";
  return text;
}

AgentUnderTest::AgentUnderTest(const Topology& topology, const TempDir& dir, const std::string& endpoints,
                               const std::string& datapath, const std::vector<std::string>& extra_args,
                               const std::string& listen_address)
    : topology_(topology), endpoints_file_(dir.path() / "endpoints"), host_(listen_address) {
  static int instance = 0;
  bpffs_ = "/sys/fs/bpf/wsteer-test-" + std::to_string(::getpid()) + "-" + std::to_string(instance++) + "-" +
           dir.path().filename().string();
  std::vector<std::string> argv{std::string(WSTEER_BIN_DIR) + "/wsteer-agent"};
  if (endpoints != kServicesFromArgs) {
    write_endpoints(endpoints);
    argv.insert(argv.end(), {"--listen", host_ + ":" + std::to_string(kPort), "--endpoints-file", endpoints_file_.string()});
  }
  argv.insert(argv.end(), {"--metrics-listen", host_ + ":" + std::to_string(kMetricsPort),
                                "--bpffs", bpffs_.string(),
                                "--datapath", datapath,
                                "--shutdown-grace", "5"});
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  argv_ = std::move(argv);
  log_ = dir.path() / ("agent-" + bpffs_.filename().string() + ".log");
  start();
}

void AgentUnderTest::restart() {
  process_.reset();
  start();
}

void AgentUnderTest::start() {
  process_ = std::make_unique<Process>(topology_.agent_ns(), argv_, log_.string());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    try {
      if (http_exchange(topology_.agent_ns(), host_, kMetricsPort, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n").status == 200) break;
    } catch (const std::exception&) {
    }
    if (process_->wait_exit(std::chrono::milliseconds(0)) || std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("agent did not become ready:\n" + process_->log());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

AgentUnderTest::~AgentUnderTest() {
  process_.reset();  // SIGTERM, wait, SIGKILL
  std::error_code ec;
  std::filesystem::remove_all(bpffs_, ec);
  // A killed agent leaves its control socket behind (a clean exit removes it).
  if (std::filesystem::is_socket(control_socket(), ec)) std::filesystem::remove(control_socket(), ec);
}

std::filesystem::path AgentUnderTest::control_socket() const { return admin::default_control_socket(bpffs_); }

void AgentUnderTest::write_endpoints(const std::string& text) {
  const auto tmp = endpoints_file_.string() + ".tmp";
  std::ofstream(tmp) << text;
  std::filesystem::rename(tmp, endpoints_file_);
}

std::map<std::string, double> AgentUnderTest::metrics() const {
  const auto reply = http_exchange(topology_.agent_ns(), host_, kMetricsPort, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  if (reply.status != 200) throw std::runtime_error("metrics: status " + std::to_string(reply.status));
  std::map<std::string, double> out;
  std::istringstream in(reply.body);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

std::size_t AgentUnderTest::flow_map_entries() const {
  const int fd = bpf_obj_get((bpffs_ / datapath::map_names::flows).c_str());
  if (fd < 0) throw std::runtime_error(std::string("cannot open pinned ") + datapath::map_names::flows + " in " + bpffs_.string());
  const std::size_t n = datapath::count_map_keys(fd);
  ::close(fd);
  return n;
}

std::string agent_binary() { return std::string(WSTEER_BIN_DIR) + "/wsteer-agent"; }

double metric_sum(const std::map<std::string, double>& metrics, const std::string& name) {
  double sum = 0;
  for (const auto& [key, value] : metrics)
    if (key == name || key.rfind(name + "{", 0) == 0) sum += value;
  return sum;
}

}  // namespace wsteer::test
