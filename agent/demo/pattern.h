// Deterministic pseudo-random bytes, so a receiver can check every byte of a large stream
// without the sender shipping a copy of it.
#pragma once

#include <cstdint>
#include <string>

namespace wsteer::demo {

class Pattern {
 public:
  explicit Pattern(std::uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ULL + 1) {}
  // The next n bytes of the stream.
  std::string next(std::size_t n) {
    std::string out(n, '\0');
    for (std::size_t i = 0; i < n; ++i) {
      if (i % 8 == 0) word_ = step();
      out[i] = static_cast<char>(word_ >> (8 * (i % 8)));
    }
    return out;
  }

 private:
  std::uint64_t step() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return state_;
  }
  std::uint64_t state_;
  std::uint64_t word_ = 0;
};

}  // namespace wsteer::demo
