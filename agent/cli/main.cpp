// wsteerctl: inspect a node's wsteer-agent from its pinned maps, steer it through its control socket.
#include "cli/commands.h"
#include "cli/ctl_error.h"
#include "cli/options.h"

#include <iostream>

int main(int argc, char** argv) {
  auto parsed = wsteer::cli::parse_command_line(argc, argv, std::cout, std::cerr);
  if (!parsed.options) return parsed.exit_code;
  try {
    wsteer::cli::run_command(*parsed.options, std::cout);
    return 0;
  } catch (const wsteer::cli::CtlError& e) {
    std::cerr << "wsteerctl: " << e.what() << "\n";
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << "wsteerctl: " << e.what() << "\n";
    return wsteer::cli::kExitFailure;
  }
}
