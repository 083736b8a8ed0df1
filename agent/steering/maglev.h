// Maglev consistent hashing (Eisenbud et al., NSDI 2016): a lookup table of prime size M in which
// every backend owns a share of slots proportional to its weight, built so that adding or removing
// one backend moves few keys. Pure functions; the table depends only on (names, weights, M, seed).
#pragma once

#include "steering/stable_hash.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace wsteer::steering {

struct MaglevMember {
  std::string name;          // decides the member's permutation: the same name lands alike everywhere
  std::uint32_t weight = 1;  // >= 1
  std::uint32_t id = 0;      // what the table stores for this member
};

bool is_prime(std::uint64_t n);

// The table: member id per slot, `size` slots (a prime). Members may come in any order (they are
// sorted by name first) and must have unique names and weights >= 1; an empty span gives an empty
// table. Throws std::invalid_argument when `size` is not prime or a weight is 0.
std::vector<std::uint32_t> build_maglev_table(std::span<const MaglevMember> members, std::uint32_t size,
                                              std::uint64_t seed);

// The hash a lookup key is reduced to; salted apart from the member permutations.
constexpr std::uint64_t maglev_key_hash(std::string_view key, std::uint64_t seed) {
  return stable_hash(key, seed ^ 0x6b65792d68617368ULL /* "key-hash" */);
}

// A key's own walk over the table: its home slot first, then slot + k*step (mod M). M is prime
// and 1 <= step < M, so the walk visits every slot exactly once: following it until a usable
// backend turns up always terminates, and it gives every key its own deterministic fallback order.
class MaglevWalk {
 public:
  MaglevWalk(std::uint64_t key_hash, std::uint32_t table_size)
      : size_(table_size),
        slot_(static_cast<std::uint32_t>(key_hash % table_size)),
        step_(table_size > 1 ? static_cast<std::uint32_t>(mix64(key_hash) % (table_size - 1)) + 1 : 1) {}

  std::uint32_t home_slot() const { return home_; }
  std::uint32_t slot() const { return slot_; }
  void advance() { slot_ = static_cast<std::uint32_t>((std::uint64_t{slot_} + step_) % size_); }

 private:
  std::uint32_t size_;
  std::uint32_t slot_;
  std::uint32_t step_;
  std::uint32_t home_ = slot_;
};

}  // namespace wsteer::steering
