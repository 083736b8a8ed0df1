// spdlog set-up: plain or JSON lines on stderr.
#pragma once

#include <spdlog/formatter.h>

#include <memory>
#include <string>
#include <string_view>

namespace wsteer {

// level: trace|debug|info|warn|error. format: plain|json. Throws std::invalid_argument on an
// unknown level or format. JSON: one object per line, {"ts","level","msg"}, whatever the message
// holds (quotes, backslashes, control characters, bytes that are not UTF-8).
void setup_logging(const std::string& level, const std::string& format);

// The line formatter setup_logging() installs for `format` (plain|json); throws like it.
std::unique_ptr<spdlog::formatter> make_log_formatter(const std::string& format);

// `text` as a JSON string literal, quotes included. Bytes that are not valid UTF-8 become U+FFFD,
// so the line stays parseable JSON even when a message quotes what a client sent.
std::string json_quote(std::string_view text);

}  // namespace wsteer
