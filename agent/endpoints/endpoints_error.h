// The one error type of the endpoints layer, carried in boost::system::result.
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
#include <string>

namespace wsteer::endpoints {

struct EndpointsError {
  std::string source;     // the file, when known; empty for text parsed from memory
  std::size_t line = 0;   // 1-based line of the offending entry; 0 when the whole source is at fault
  std::string reason;     // what is wrong, for a human

  // "[SOURCE: ][line N: ]REASON"
  std::string message() const;

  bool operator==(const EndpointsError&) const = default;
};

template <typename T>
using Result = boost::system::result<T, EndpointsError>;

// Found by argument-dependent lookup when Result<T>::value() is called on an error, so the edge
// that wants an exception gets a std::invalid_argument carrying message().
[[noreturn]] void throw_exception_from_error(const EndpointsError& error, const boost::source_location& location);

}  // namespace wsteer::endpoints
