// The one error type of wsteerctl: a message for the operator and the exit code it maps to.
#pragma once

#include <stdexcept>
#include <string>

namespace wsteer::cli {

inline constexpr int kExitFailure = 1;  // the agent, its maps or the request failed
inline constexpr int kExitUsage = 2;    // bad command line

class CtlError : public std::runtime_error {
 public:
  explicit CtlError(const std::string& message, int exit_code = kExitFailure)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

}  // namespace wsteer::cli
