#include "endpoints/endpoints_error.h"

#include <boost/throw_exception.hpp>

#include <stdexcept>

namespace wsteer::endpoints {

std::string EndpointsError::message() const {
  std::string text;
  if (!source.empty()) text += source + ": ";
  if (line != 0) text += "line " + std::to_string(line) + ": ";
  return text + reason;
}

void throw_exception_from_error(const EndpointsError& error, const boost::source_location& location) {
  boost::throw_with_location(std::invalid_argument(error.message()), location);
}

}  // namespace wsteer::endpoints
