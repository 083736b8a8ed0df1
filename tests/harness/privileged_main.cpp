// main() of the privileged suites: the same binary is also the backend echo server
// (`--echo-server ...`), so a test can start backends as real processes and kill them.
#include "harness/echo_server.h"

#include <gtest/gtest.h>

#include <cstring>

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--echo-server") == 0) wsteer::test::echo_server_main(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
