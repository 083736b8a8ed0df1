// main() of the privileged suites: the same binary is also the backend echo server
// (`--echo-server ...`), so a test can start backends as real processes and kill them.
#include "demo/echo_server.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  // --echo-server NAME ADDRESS PORT [--first-frame]
  if (argc >= 5 && std::strcmp(argv[1], "--echo-server") == 0) {
    wsteer::demo::run_echo_server(argv[2], argv[3], static_cast<unsigned short>(std::atoi(argv[4])),
                                  argc > 5 && std::strcmp(argv[5], "--first-frame") == 0);
    return 0;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
