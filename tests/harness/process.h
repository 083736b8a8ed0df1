// A child process started inside a network namespace (fork, setns, exec: unlike `ip netns exec`
// this keeps the mount namespace, so the child still sees /sys/fs/bpf). Its output goes to a
// log file. The destructor sends SIGTERM, waits, then SIGKILLs.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace wsteer::test {

class Process {
 public:
  Process(const std::string& netns, const std::vector<std::string>& argv, const std::string& log_path);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  int pid() const { return pid_; }
  void signal(int sig) const;
  // The exit status (WEXITSTATUS, or 128+signal) if the process ended within `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  std::string log() const;
  // Open descriptors of the process, from /proc/PID/fd.
  std::size_t open_fds() const;

 private:
  int pid_ = -1;
  std::string log_path_;
  std::optional<int> status_;
};

}  // namespace wsteer::test
