#include "harness/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>

namespace wsteer::test {
namespace {

// Namespaces alive in this process, for the signal handler.
std::mutex live_mutex;
std::set<std::string> live;

void delete_namespace(const std::string& name) {
  std::system(("ip netns delete " + name + " 2>/dev/null").c_str());
}

void on_signal(int sig) {
  for (const auto& name : live) delete_namespace(name);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

std::string unique_prefix() {
  std::random_device rd;
  return "wst" + std::to_string(::getpid() % 100000) + "x" + std::to_string(rd() % 10000);
}

}  // namespace

void run(const std::string& command) {
  if (std::system(command.c_str()) != 0) throw std::runtime_error("command failed: " + command);
}

Topology::Topology(int backends) : prefix_(unique_prefix()), client_(prefix_ + "c"), agent_(prefix_ + "a") {
  for (int i = 0; i < backends; ++i) backends_.push_back(prefix_ + "b" + std::to_string(i));
  {
    std::lock_guard lock(live_mutex);
    live.insert(client_);
    live.insert(agent_);
    live.insert(backends_.begin(), backends_.end());
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
  }
  auto link = [&](const std::string& ns, const std::string& dev, const std::string& ns_addr,
                  const std::string& agent_addr) {
    run("ip link add " + dev + " netns " + ns + " type veth peer name " + dev + " netns " + agent_);
    run("ip -n " + ns + " addr add " + ns_addr + "/24 dev " + dev + " && ip -n " + ns + " link set " + dev + " up");
    run("ip -n " + agent_ + " addr add " + agent_addr + "/24 dev " + dev + " && ip -n " + agent_ + " link set " + dev + " up");
    run("ip -n " + ns + " route add default via " + agent_addr);
  };
  try {
    for (const auto& ns : live)
      if (ns.rfind(prefix_, 0) == 0) run("ip netns add " + ns + " && ip -n " + ns + " link set lo up");
    link(client_, "vc", client_address(), agent_client_side());
    for (int i = 0; i < backends; ++i)
      link(backends_[i], "vb" + std::to_string(i), backend_address(i), "10.77." + std::to_string(10 + i) + ".1");
    // Room for 10,000+ client connections from one address.
    run("ip netns exec " + client_ + " sysctl -qw net.ipv4.ip_local_port_range='10000 65000'");
    run("ip netns exec " + agent_ + " sysctl -qw net.ipv4.ip_local_port_range='10000 65000'");
  } catch (...) {
    this->~Topology();
    throw;
  }
}

Topology::~Topology() {
  std::lock_guard lock(live_mutex);
  for (const auto& ns : std::vector<std::string>{client_, agent_}) {
    delete_namespace(ns);
    live.erase(ns);
  }
  for (const auto& ns : backends_) {
    delete_namespace(ns);
    live.erase(ns);
  }
}

NetnsGuard::NetnsGuard(const std::string& name) {
  original_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  const int target = ::open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
  if (original_ < 0 || target < 0 || ::setns(target, CLONE_NEWNET) != 0) {
    if (target >= 0) ::close(target);
    throw std::runtime_error("cannot enter network namespace " + name);
  }
  ::close(target);
}

NetnsGuard::~NetnsGuard() {
  ::setns(original_, CLONE_NEWNET);
  ::close(original_);
}

}  // namespace wsteer::test
