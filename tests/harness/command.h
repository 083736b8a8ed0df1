// Runs a program to completion in the test's own namespaces (e.g. wsteerctl, which needs only the
// bpffs and the control socket, both visible from everywhere) and captures what it printed.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace wsteer::test {

struct CommandResult {
  int exit_code = -1;  // WEXITSTATUS, or 128+signal
  std::string out;
  std::string err;
};

// Throws std::runtime_error if it cannot start or does not finish within `limit` (it is killed).
CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds limit = std::chrono::seconds(20));

// A program of this build (build/bin/NAME).
std::filesystem::path wsteer_binary(const std::string& name);

}  // namespace wsteer::test
