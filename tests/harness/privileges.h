// Privileged tests need root, network namespaces, bpffs and BPF. Without them they skip and say
// why, unless WSTEER_REQUIRE_PRIVILEGED=1 (CI), where a skip is a failure.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace wsteer::test {

// Why this machine cannot run privileged tests, or nothing if it can. Mounts bpffs if needed.
std::optional<std::string> missing_privileges();
bool privileged_required();

}  // namespace wsteer::test

#define WSTEER_REQUIRE_PRIVILEGED()                                                          \
  do {                                                                                       \
    if (auto why = ::wsteer::test::missing_privileges()) {                                   \
      if (::wsteer::test::privileged_required()) FAIL() << "privileged test cannot run: " << *why; \
      GTEST_SKIP() << "privileged test skipped: " << *why;                                   \
    }                                                                                        \
  } while (0)
