#include "harness/command.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#ifndef WSTEER_BIN_DIR
#error "WSTEER_BIN_DIR must name the folder holding the built programs"
#endif

namespace wsteer::test {

std::filesystem::path wsteer_binary(const std::string& name) { return std::filesystem::path(WSTEER_BIN_DIR) / name; }

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds limit) {
  // Output goes to scratch files rather than pipes: no risk of a full pipe blocking the child.
  std::random_device rd;
  const auto base = std::filesystem::temp_directory_path() /
                    ("wsteer-cmd-" + std::to_string(::getpid()) + "-" + std::to_string(rd() % 1000000));
  const auto out_path = base.string() + ".out", err_path = base.string() + ".err";
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (out < 0 || err < 0) ::_exit(126);
    ::dup2(out, 1);
    ::dup2(err, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  CommandResult result;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      std::filesystem::remove(out_path);
      std::filesystem::remove(err_path);
      throw std::runtime_error("command did not finish in time: " + argv.front());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto slurp = [](const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  };
  result.out = slurp(out_path);
  result.err = slurp(err_path);
  std::filesystem::remove(out_path);
  std::filesystem::remove(err_path);
  return result;
}

}  // namespace wsteer::test
