// main() of the privileged suites: the same binary is also the backend echo server
// (`--echo-server ...`), so a test can start backends as real processes and kill them.
#include "demo/echo_server.h"
#include "harness/leftovers.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>

int main(int argc, char** argv) {
  // --echo-server NAME ADDRESS PORT [--first-frame]
  if (argc >= 5 && std::strcmp(argv[1], "--echo-server") == 0) {
    wsteer::demo::run_echo_server(argv[2], argv[3], static_cast<unsigned short>(std::atoi(argv[4])),
                                  argc > 5 && std::strcmp(argv[5], "--first-frame") == 0);
    return 0;
  }
  ::testing::InitGoogleTest(&argc, argv);
  // A suite that died earlier (a sanitizer report, a timeout) could not clean up after itself.
  if (::geteuid() == 0)
    for (const auto& path : wsteer::test::remove_leftovers_of_dead_runs())
      std::cerr << "removed what a dead test process left: " << path << "\n";
  return RUN_ALL_TESTS();
}
