// spdlog set-up: plain or JSON lines on stderr.
#pragma once

#include <string>

namespace wsteer {

enum class LogFormat { plain, json };

// level: trace|debug|info|warn|error. Throws std::invalid_argument on an unknown level or format.
void setup_logging(const std::string& level, const std::string& format);

}  // namespace wsteer
