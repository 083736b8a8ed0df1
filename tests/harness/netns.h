// Network namespaces a test creates for itself: one client, one agent, N backends, joined to the
// agent by veth pairs created directly inside the namespaces (nothing appears in the root
// namespace). Names are unique per run; everything is deleted in the destructor, also when the
// test fails, and on SIGINT/SIGTERM.
#pragma once

#include <string>
#include <vector>

namespace wsteer::test {

// Runs a shell command; throws std::runtime_error with the command on a non-zero exit.
void run(const std::string& command);

class Topology {
 public:
  explicit Topology(int backends = 3);
  ~Topology();
  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;

  const std::string& client_ns() const { return client_; }
  const std::string& agent_ns() const { return agent_; }
  const std::string& backend_ns(int i) const { return backends_.at(i); }
  int backends() const { return static_cast<int>(backends_.size()); }

  // Addresses (10.x, inside the namespaces only).
  std::string agent_client_side() const { return "10.77.1.1"; }  // what clients connect to
  std::string client_address() const { return "10.77.1.2"; }
  std::string backend_address(int i) const { return "10.77." + std::to_string(10 + i) + ".2"; }

 private:
  std::string prefix_;
  std::string client_, agent_;
  std::vector<std::string> backends_;
};

// Moves the calling thread into a network namespace until destroyed (setns is per thread for
// network namespaces); sockets created meanwhile stay in that namespace.
class NetnsGuard {
 public:
  explicit NetnsGuard(const std::string& name);
  ~NetnsGuard();
  NetnsGuard(const NetnsGuard&) = delete;
  NetnsGuard& operator=(const NetnsGuard&) = delete;

 private:
  int original_ = -1;
};

}  // namespace wsteer::test
