// The YAML config (--config), through agent_config_from_yaml: the same reading, merging and
// validation as the agent, without flags. Bad input must end in std::invalid_argument with a
// message (the agent prints it and exits 2); any other exception, a crash or a UBSan report is a bug.
#include "app/agent_config.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // cookie-secret-file reads a file the document names; /dev/zero or a FIFO would hang the fuzzer
  // rather than find a bug, so documents naming one are not tried.
  if (text.find("secret-file") != std::string::npos) return 0;
  try {
    (void)wsteer::app::agent_config_from_yaml(text);
  } catch (const std::invalid_argument& e) {
    if (std::string(e.what()).empty()) std::abort();
  }
  return 0;
}
