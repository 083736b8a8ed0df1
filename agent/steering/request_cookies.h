// Reads one cookie out of a request's Cookie header(s). Beast parses header fields but not the
// Cookie syntax, and its param_list grammar rejects ordinary cookie values ('/', '=', ':'), so
// this splits cookie-pairs as RFC 6265 section 5.4 describes.
#pragma once

#include "steering/steering.h"

#include <optional>
#include <string_view>

namespace wsteer::steering {

// The value of the first cookie named `name` (case-sensitive, as cookie names are), surrounding
// double quotes removed. Views into `request`.
std::optional<std::string_view> find_request_cookie(const Request& request, std::string_view name);

}  // namespace wsteer::steering
