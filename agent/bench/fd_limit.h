// 10,000 connections need more descriptors than the usual soft limit of 1024.
#pragma once

namespace wsteer::bench {

// Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the new soft limit.
long raise_fd_limit();

}  // namespace wsteer::bench
