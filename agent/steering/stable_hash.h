// A 64-bit hash that gives the same value on every node, build and run. std::hash promises none
// of that, and two agents must map every key to the same backend, so the Maglev table and the
// key lookup both use this one.
#pragma once

#include <cstdint>
#include <string_view>

namespace wsteer::steering {

// The MurmurHash3 64-bit finalizer: spreads every input bit over every output bit, so that the
// low bits (taken modulo the table size) depend on the whole input.
constexpr std::uint64_t mix64(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb33fe64e5a53ULL;
  x ^= x >> 33;
  return x;
}

// FNV-1a over the bytes, started from a seed-dependent basis and finished with mix64 (plain
// FNV-1a has weak low bits for short, similar inputs such as "pod-1", "pod-2").
constexpr std::uint64_t stable_hash(std::string_view bytes, std::uint64_t seed) {
  constexpr std::uint64_t kFnvOffsetBasis = 0xcbf29ce484222325ULL;
  constexpr std::uint64_t kFnvPrime = 0x100000001b3ULL;
  std::uint64_t h = kFnvOffsetBasis ^ mix64(seed);
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= kFnvPrime;
  }
  return mix64(h);
}

}  // namespace wsteer::steering
